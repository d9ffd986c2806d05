using System.Diagnostics;

namespace Geo.Engines;

/// <summary>
/// Runs a cleanup script when its owner goes away, however: dispose, unhandled exception, cancelled test run or SIGKILL.
/// A shell in its own session blocks reading a pipe from this process and runs the script when the pipe closes; it
/// ignores SIGINT/SIGTERM/SIGHUP so a Ctrl-C to the test run cannot skip it.
/// </summary>
public sealed class Reaper : IDisposable
{
    private readonly Process _process;
    private bool _disposed;

    private Reaper(Process process) => _process = process;

    /// <summary>Starts a reaper that will run <paramref name="script"/> (POSIX sh) when disposed or orphaned.</summary>
    public static Reaper Start(string script)
    {
        var info = new ProcessStartInfo("setsid")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = false,
            RedirectStandardError = false,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("sh");
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add($"trap '' INT TERM HUP; cat >/dev/null; {script}");
        var process = Process.Start(info) ?? throw new EngineException("cannot start the reaper (setsid sh)");
        return new Reaper(process);
    }

    /// <summary>Runs the cleanup script now and waits for it to finish.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _process.StandardInput.Close();
        if (!_process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
    }
}
