using Geo.Engines;

namespace Geo.Testing;

/// <summary>
/// A reaper for a whole local stack in a test folder: whatever happens to the test process, every process
/// that left a pid file below the folder (PostgreSQL, Redis, Geo services) is killed and the folder removed.
/// </summary>
public static class StackReaper
{
    public static Reaper Start(string root)
    {
        var quoted = Shell.Quote(root);
        // Only a process that is the one its pid file was written for: a stopped or killed service's pid may name a
        // process of another stack by now (pids wrap at pid_max).
        return Reaper.Start(
            $"{Processes.PidFileFunctionsScript} find {quoted} \\( -name service.pid -o -name postmaster.pid -o -name redis.pid \\) 2>/dev/null " +
            $"| while IFS= read -r f; do geo_reap \"$f\"; done; rm -rf {quoted}");
    }
}
