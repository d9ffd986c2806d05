using System.Diagnostics;
using System.Globalization;

namespace Geo.EndToEnd.Tests;

/// <summary>Kills a process the way a lost machine does.</summary>
internal static class ProcessTree
{
    /// <summary>SIGKILL of a process and its children (a PostgreSQL server's backends and walsenders die with it).</summary>
    public static void Kill(int pid)
    {
        var children = System.IO.Directory.EnumerateDirectories("/proc")
            .Select(Path.GetFileName)
            .Where(name => name!.All(char.IsAsciiDigit))
            .Select(name => int.Parse(name!, CultureInfo.InvariantCulture))
            .Where(child => ParentOf(child) == pid)
            .ToList();
        Process.GetProcessById(pid).Kill();
        foreach (var child in children)
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
