using System.Diagnostics;
using System.Globalization;

namespace Geo.Engines.Tests;

/// <summary>
/// A pid file names its process only while that process is the one it was written for: pids wrap at pid_max, and a
/// stop or a reaper that signals whatever holds the pid now kills a stranger (in CI, another test stack's service).
/// A process that started after the file was last written stands for such a stranger here.
/// </summary>
public sealed class PidFileTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("geo-pidfile-").FullName;
    private readonly List<Process> _processes = [];

    [Fact]
    public void LivePidFromFile_WrittenAfterTheProcessStarted_NamesIt()
    {
        var process = Sleeper();
        var file = PidFile(process.Id);

        Assert.Equal(process.Id, Processes.LivePidFromFile(file));
    }

    [Fact]
    public void LivePidFromFile_ProcessStartedAfterTheFileWasWritten_NamesNothing()
    {
        var stranger = Sleeper();
        var file = PidFile(stranger.Id, writtenAt: Processes.StartTime(stranger.Id)!.Value.AddMinutes(-10));

        Assert.True(Processes.IsAlive(stranger.Id));
        Assert.Null(Processes.LivePidFromFile(file));
    }

    [Fact]
    public void LivePidFromFile_ProcessGoneOrFileMissingOrGarbage_NamesNothing()
    {
        var process = Sleeper();
        var file = PidFile(process.Id);
        process.Kill();
        process.WaitForExit();

        Assert.Null(Processes.LivePidFromFile(file));
        Assert.Null(Processes.LivePidFromFile(Path.Combine(_folder, "missing.pid")));
        File.WriteAllText(file, "not a pid\n");
        Assert.Null(Processes.LivePidFromFile(file));
    }

    [Fact]
    public void StartTime_ThisProcess_BeforeNowAndAfterBoot()
    {
        var started = Processes.StartTime(Environment.ProcessId);

        Assert.NotNull(started);
        Assert.InRange(started.Value, DateTime.UtcNow - TimeSpan.FromDays(3650), DateTime.UtcNow + TimeSpan.FromSeconds(2));
        Assert.InRange(started.Value, Process.GetCurrentProcess().StartTime.ToUniversalTime() - TimeSpan.FromSeconds(2),
            Process.GetCurrentProcess().StartTime.ToUniversalTime() + TimeSpan.FromSeconds(2));
    }

    [Fact]
    public async Task GeoOwns_SameCheckInShell_YesForTheProcessNoForAStranger()
    {
        var process = Sleeper();
        var stranger = Sleeper();
        var own = PidFile(process.Id);
        var reused = PidFile(stranger.Id, writtenAt: Processes.StartTime(stranger.Id)!.Value.AddMinutes(-10));

        Assert.Equal(0, await ShellAsync($"geo_owns {Shell.Quote(own)}"));
        Assert.Equal(1, await ShellAsync($"geo_owns {Shell.Quote(reused)}"));
        Assert.Equal(1, await ShellAsync($"geo_owns {Shell.Quote(Path.Combine(_folder, "missing.pid"))}"));
    }

    [Fact]
    public async Task GeoReap_OwnProcess_Killed()
    {
        var process = Sleeper();
        var own = PidFile(process.Id);

        Assert.Equal(0, await ShellAsync($"geo_reap {Shell.Quote(own)}"));
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(30)), "geo_reap left the process of its pid file running");
    }

    public void Dispose()
    {
        foreach (var process in _processes)
        {
            if (!process.HasExited)
            {
                process.Kill();
            }

            process.Dispose();
        }

        Directory.Delete(_folder, recursive: true);
    }

    private Process Sleeper()
    {
        var process = Process.Start(new ProcessStartInfo("sleep", "600") { UseShellExecute = false })!;
        _processes.Add(process);
        return process;
    }

    private string PidFile(int pid, DateTime? writtenAt = null)
    {
        var file = Path.Combine(_folder, $"{pid.ToString(CultureInfo.InvariantCulture)}.pid");
        File.WriteAllText(file, pid.ToString(CultureInfo.InvariantCulture) + "\n");
        if (writtenAt is { } at)
        {
            File.SetLastWriteTimeUtc(file, at);
        }

        return file;
    }

    private static async Task<int> ShellAsync(string command)
    {
        using var shell = Process.Start(new ProcessStartInfo("sh") { ArgumentList = { "-c", $"{Processes.PidFileFunctionsScript} {command}" }, UseShellExecute = false })!;
        await shell.WaitForExitAsync();
        return shell.ExitCode;
    }
}
