using System.Globalization;

namespace Geo.Engines;

/// <summary>Process facts read from /proc and signals sent by pid, for processes that are not our children.</summary>
public static class Processes
{
    /// <summary>True when a process with this pid exists and is not a zombie.</summary>
    public static bool IsAlive(int pid)
    {
        if (pid <= 0)
        {
            return false;
        }

        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return true;
        }

        // Format: pid (comm) state ...; comm may contain spaces and parentheses, so find the last ')'.
        var close = stat.LastIndexOf(')');
        return close < 0 || close + 2 >= stat.Length || stat[close + 2] != 'Z';
    }

    /// <summary>Waits until the process is gone or the deadline passes; returns whether it is gone.</summary>
    public static async Task<bool> WaitForExitAsync(int pid, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (IsAlive(pid))
        {
            if (DateTime.UtcNow >= deadline)
            {
                return false;
            }

            await Task.Delay(25, cancellationToken);
        }

        return true;
    }

    /// <summary>Sends a signal to a process (or, with a negative pid, to a process group) through kill(1).</summary>
    public static async Task<bool> SignalAsync(int pid, string signal, CancellationToken cancellationToken = default)
    {
        var result = await ProcessRunner.RunAsync("kill", [$"-{signal}", "--", pid.ToString(CultureInfo.InvariantCulture)], cancellationToken);
        return result.Succeeded;
    }

    /// <summary>Reads a pid file; null when it is missing or unreadable.</summary>
    public static int? ReadPidFile(string path)
    {
        try
        {
            var first = File.ReadLines(path).FirstOrDefault();
            return int.TryParse(first, NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid) ? pid : null;
        }
        catch (IOException)
        {
            return null;
        }
    }
}
