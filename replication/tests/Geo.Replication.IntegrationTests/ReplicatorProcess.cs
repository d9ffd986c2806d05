using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Geo.Engines;
using Geo.Engines.Services;

namespace Geo.Replication.IntegrationTests;

/// <summary>The real geo-replicator executable (<c>dotnet geo-replicator.dll</c>), for crash tests; a reaper kills it if the test process dies.</summary>
public sealed class ReplicatorProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Reaper _reaper;
    private readonly ConcurrentQueue<string> _output;

    private ReplicatorProcess(Process process, ConcurrentQueue<string> output)
    {
        _process = process;
        _output = output;
        _reaper = Reaper.Start($"kill -9 {process.Id.ToString(CultureInfo.InvariantCulture)} 2>/dev/null");
    }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public static ReplicatorProcess Start(TestShard shard, ConcurrentQueue<string> output)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(GeoProgram.Replicator.Locate());
        foreach (var (key, value) in new Dictionary<string, string>
        {
            ["Replication:Region"] = "b",
            ["urls"] = "http://127.0.0.1:0",
            ["Management:Url"] = "http://127.0.0.1:0",
            ["Replication:Shards:0:Name"] = shard.Database + "@a",
            ["Replication:Shards:0:SourceConnectionString"] = shard.Source,
            ["Replication:Shards:0:ReplicaConnectionString"] = shard.Replica,
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:Geo"] = "Information",
        })
        {
            info.ArgumentList.Add($"--{key}={value}");
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("cannot start geo-replicator");
        process.OutputDataReceived += (_, e) => Keep(output, e.Data);
        process.ErrorDataReceived += (_, e) => Keep(output, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new ReplicatorProcess(process, output);
    }

    public void Kill() => _process.Kill();

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cancel.Token);
        return _process.ExitCode;
    }

    public string Tail() => string.Join('\n', _output.TakeLast(40));

    public ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }

        _reaper.Dispose();
        _process.Dispose();
        return ValueTask.CompletedTask;
    }

    private static void Keep(ConcurrentQueue<string> output, string? line)
    {
        if (line is null)
        {
            return;
        }

        output.Enqueue(line);
        while (output.Count > 2000)
        {
            output.TryDequeue(out _);
        }
    }
}
