using System.Diagnostics;
using System.Globalization;

namespace Geo.Engines;

/// <summary>Signals a process and everything it started, the way a lost, frozen or revived machine treats them.</summary>
public static class ProcessTree
{
    /// <summary>SIGKILL of a process and its children (a PostgreSQL server's backends and walsenders die with it).</summary>
    public static void Kill(int pid)
    {
        var tree = Descendants(pid);
        Process.GetProcessById(pid).Kill();
        foreach (var child in tree)
        {
            try
            {
                Process.GetProcessById(child).Kill();
            }
            catch (ArgumentException)
            {
                // Gone already.
            }
        }
    }

    /// <summary>
    /// Sends <paramref name="signal"/> (STOP, CONT, KILL…) to a process and all its descendants in one kill(1), so a frozen
    /// server's backends freeze with it and a thawed one's resume together.
    /// </summary>
    public static Task SignalAsync(int pid, string signal, CancellationToken cancellationToken = default) =>
        ProcessRunner.RunAsync("kill", [$"-{signal}", "--", .. new[] { pid }.Concat(Descendants(pid)).Select(p => p.ToString(CultureInfo.InvariantCulture))], cancellationToken);

    /// <summary>Every process below <paramref name="pid"/>, children first, then theirs.</summary>
    public static IReadOnlyList<int> Descendants(int pid)
    {
        var parents = System.IO.Directory.EnumerateDirectories("/proc")
            .Select(Path.GetFileName)
            .Where(name => name!.All(char.IsAsciiDigit))
            .Select(name => int.Parse(name!, CultureInfo.InvariantCulture))
            .Select(child => (Child: child, Parent: ParentOf(child)))
            .Where(p => p.Parent is not null)
            .ToLookup(p => p.Parent!.Value, p => p.Child);
        var found = new List<int>();
        var next = new Queue<int>([pid]);
        while (next.TryDequeue(out var parent))
        {
            foreach (var child in parents[parent])
            {
                found.Add(child);
                next.Enqueue(child);
            }
        }

        return found;
    }

    private static int? ParentOf(int pid)
    {
        try
        {
            // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so read after its closing parenthesis.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return int.Parse(fields[1], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return null;
        }
    }
}
