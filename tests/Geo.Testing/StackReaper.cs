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
        return Reaper.Start(
            $"find {quoted} \\( -name service.pid -o -name postmaster.pid -o -name redis.pid \\) " +
            $"-exec sh -c 'p=\"$(head -n 1 \"$1\")\"; kill -9 -- -\"$p\" 2>/dev/null; kill -9 \"$p\" 2>/dev/null' _ {{}} \\; 2>/dev/null; rm -rf {quoted}");
    }
}
