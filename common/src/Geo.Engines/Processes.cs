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

    /// <summary>
    /// Waits until the process is gone or the deadline passes; returns whether it is gone. A process that holds the pid
    /// meanwhile but started later (the pid was reused) does not count as it.
    /// </summary>
    public static async Task<bool> WaitForExitAsync(int pid, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        var started = StartTicks(pid);
        while (IsAlive(pid) && StartTicks(pid) == started)
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

    /// <summary>
    /// How much later than its pid file was last written a process may seem to have started and still be the one the file
    /// names: the boot time the kernel reports is in whole seconds.
    /// </summary>
    private static readonly TimeSpan StartSlack = TimeSpan.FromSeconds(2);

    /// <summary>Clock ticks per second of <c>/proc/&lt;pid&gt;/stat</c> (USER_HZ, 100 on every Linux architecture .NET runs on).</summary>
    private const double ClockTicksPerSecond = 100;

    /// <summary>
    /// The pid a pid file names, when that process runs and is the one the file was written for; null otherwise. A
    /// process that started after the file was last written holds a reused pid: pids wrap at <c>pid_max</c> (32768 by
    /// default), so the pid of a service that was killed, or of a stack whose files outlived it, soon names a stranger,
    /// which a stop must never signal and a start must not take for the service.
    /// </summary>
    public static int? LivePidFromFile(string path)
    {
        if (ReadPidFile(path) is not { } pid || !IsAlive(pid))
        {
            return null;
        }

        DateTime written;
        try
        {
            written = File.GetLastWriteTimeUtc(path);
        }
        catch (IOException)
        {
            return null;
        }

        return StartTime(pid) is { } started && started > written + StartSlack ? null : pid;
    }

    /// <summary>When the process started (to the second, from the boot time and its start in clock ticks); null when unknown.</summary>
    public static DateTime? StartTime(int pid)
    {
        if (StartTicks(pid) is not { } ticks)
        {
            return null;
        }

        try
        {
            var boot = File.ReadLines("/proc/stat").FirstOrDefault(l => l.StartsWith("btime ", StringComparison.Ordinal));
            return boot is not null && long.TryParse(boot.AsSpan(6), NumberStyles.Integer, CultureInfo.InvariantCulture, out var bootSeconds)
                ? DateTime.UnixEpoch.AddSeconds(bootSeconds + (ticks / ClockTicksPerSecond))
                : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The process's start in clock ticks after boot (its identity with the pid); null when it is gone or unreadable.</summary>
    private static long? StartTicks(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
            var close = stat.LastIndexOf(')');
            if (close < 0 || close + 2 >= stat.Length)
            {
                return null;
            }

            // After "pid (comm) " the fields start at the third, the state; the start time is the 22nd.
            var fields = stat[(close + 2)..].Split(' ');
            return fields.Length >= 20 && long.TryParse(fields[19], NumberStyles.Integer, CultureInfo.InvariantCulture, out var ticks) ? ticks : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// POSIX sh functions for cleanup scripts (prefix a script with them): <c>geo_owns FILE</c> succeeds when the process a
    /// pid file names runs and is the one the file was written for (the check of <see cref="LivePidFromFile"/>), and
    /// <c>geo_reap FILE</c> SIGKILLs that process and its process group only then: a stranger holding a reused pid is
    /// left alone.
    /// </summary>
    public static string PidFileFunctionsScript { get; } = string.Join(' ',
        "geo_owns() {",
        "p=$(head -n 1 \"$1\" 2>/dev/null); case \"$p\" in ''|*[!0-9]*) return 1;; esac;",
        "s=$(sed 's/.*) //' /proc/$p/stat 2>/dev/null | cut -d' ' -f20); [ -n \"$s\" ] || return 1;",
        "b=$(sed -n 's/^btime //p' /proc/stat); w=$(stat -c %Y \"$1\");",
        $"[ $((b + s / {ClockTicksPerSecond:F0})) -le $((w + {StartSlack.TotalSeconds:F0})) ];",
        "};",
        "geo_reap() { geo_owns \"$1\" || return 0; kill -9 -- -$p 2>/dev/null; kill -9 $p 2>/dev/null; return 0; };");

    /// <summary>Reads a pid file; null when it is missing or unreadable.</summary>
    private static int? ReadPidFile(string path)
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
