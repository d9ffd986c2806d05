using System.Diagnostics;
using Geo.Engines.Services;

namespace Geo.Ctl.Drill;

/// <summary>A geoctl command the drill runs as its own process, as an operator following the runbook would.</summary>
internal sealed record GeoctlRun(string Command, int ExitCode, TimeSpan Took, double StartedAt, double EndedAt, string Output);

/// <summary>Runs geoctl commands of a drill as processes, each output line passed on as it comes.</summary>
internal sealed class GeoctlProcess(string stateDirectory, DrillRecorder clock, Action<string> line)
{
    public async Task<GeoctlRun> RunAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { GeoProgram.Ctl.Locate(), "--state-dir", stateDirectory }.Concat(arguments))
        {
            info.ArgumentList.Add(argument);
        }

        var command = $"geoctl {string.Join(' ', arguments)}";
        line($"  $ {command}");
        var started = clock.Now;
        var clockTime = Stopwatch.StartNew();
        var output = new System.Text.StringBuilder();
        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start geoctl");
        async Task PumpAsync(StreamReader reader)
        {
            while (await reader.ReadLineAsync(CancellationToken.None) is { } text)
            {
                lock (output)
                {
                    output.AppendLine(text);
                }

                line($"    | {text}");
            }
        }

        var pumps = Task.WhenAll(PumpAsync(process.StandardOutput), PumpAsync(process.StandardError));
        try
        {
            await process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        await pumps;
        return new GeoctlRun(command, process.ExitCode, clockTime.Elapsed, started, clock.Now, output.ToString());
    }
}
