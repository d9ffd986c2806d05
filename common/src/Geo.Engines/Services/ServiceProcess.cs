using System.Globalization;

namespace Geo.Engines.Services;

/// <summary>
/// One of Geo's own services (geo-region, geo-router, geo-replicator) running detached in a session of its
/// own, with a pid file and a log file in its folder, so that it outlives the command that started it and
/// can be stopped later, children included, by that pid.
/// </summary>
public sealed class ServiceProcess
{
    private ServiceProcess(string directory) => Directory = directory;

    /// <summary>The service's folder (pid file and log).</summary>
    public string Directory { get; }

    public string LogFile => Path.Combine(Directory, "service.log");

    /// <summary>The service's pid while it runs (never a pid its file names that a later process reused).</summary>
    public int? Pid => Processes.LivePidFromFile(PidFile);

    public bool IsRunning => Pid is not null;

    private string PidFile => Path.Combine(Directory, "service.pid");

    /// <summary>A handle on the service of a folder, running or not.</summary>
    public static ServiceProcess Open(string directory) => new(Path.GetFullPath(directory));

    /// <summary>Starts <c>dotnet &lt;assembly&gt; &lt;arguments&gt;</c> detached (a running one is left as it is).</summary>
    public static async Task<ServiceProcess> StartAsync(string directory, string assembly, IReadOnlyList<string> arguments, CancellationToken cancellationToken = default)
    {
        var service = Open(directory);
        if (service.IsRunning)
        {
            return service;
        }

        // Its log names tenants and subscribers: its owner's only.
        System.IO.Directory.CreateDirectory(service.Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var command = string.Join(' ', new[] { "dotnet", assembly }.Concat(arguments).Select(Shell.Quote));
        // setsid: its own session and process group, so a stop reaches its children and no terminal signal does.
        await ProcessRunner.RunCheckedAsync("sh",
            ["-c", $"setsid {command} >>{Shell.Quote(service.LogFile)} 2>&1 </dev/null & echo $! > {Shell.Quote(service.PidFile)}"], cancellationToken);
        return service;
    }

    /// <summary>Waits until <paramref name="ready"/> says yes, failing early with the log's tail if the process dies.</summary>
    public async Task WaitUntilReadyAsync(Func<CancellationToken, Task<bool>> ready, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (!IsRunning)
            {
                throw new EngineException($"the service in {Directory} exited while starting; last lines of {LogFile}:{Environment.NewLine}{Tail()}");
            }

            if (await ready(cancellationToken))
            {
                return;
            }

            if (DateTime.UtcNow >= deadline)
            {
                throw new EngineException($"the service in {Directory} was not ready within {timeout.TotalSeconds:F0} s; last lines of {LogFile}:{Environment.NewLine}{Tail()}");
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    /// <summary>SIGTERM to the whole process group (graceful: in-flight work is finished), SIGKILL after the grace period.</summary>
    public async Task StopAsync(TimeSpan grace, CancellationToken cancellationToken = default)
    {
        if (Pid is not { } pid)
        {
            return;
        }

        await Processes.SignalAsync(-pid, "TERM", cancellationToken);
        if (!await Processes.WaitForExitAsync(pid, grace, cancellationToken))
        {
            await Processes.SignalAsync(-pid, "KILL", cancellationToken);
            await Processes.WaitForExitAsync(pid, TimeSpan.FromSeconds(10), cancellationToken);
        }
    }

    private string Tail()
    {
        try
        {
            var lines = File.ReadAllLines(LogFile);
            return string.Join(Environment.NewLine, lines.Skip(Math.Max(0, lines.Length - 20)));
        }
        catch (IOException)
        {
            return "(no log)";
        }
    }

    public override string ToString() => Pid?.ToString(CultureInfo.InvariantCulture) ?? "-";
}
