using Geo.Replication.Applying;
using Geo.Replication.Changes;
using Geo.Replication.Discovery;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Geo.Replication.Hosting;

/// <summary>
/// Runs the static shards of <see cref="ReplicatorOptions.Shards"/> and those the <see cref="ReplicatorOptions.Directory"/>
/// says this region stands by for, following directory changes. A static shard wins over a discovered one of the same name.
/// </summary>
public sealed partial class ReplicatorRuntime : BackgroundService
{
    private readonly ReplicatorOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly IKafkaSourceFactory? _kafka;
    private readonly Lock _gate = new();
    private readonly ShardRun[] _static;
    private readonly HashSet<string> _staticNames;
    private readonly ShardDiscovery? _discovery;

    // Only the discovery loop touches this: discovered names already reported as hidden by a static shard.
    private readonly HashSet<string> _shadowed = new(StringComparer.Ordinal);

    // Only the discovery loop touches this: streams being stopped, by shard name; a new stream of the name waits for its predecessor.
    private readonly Dictionary<string, Task> _stopping = new(StringComparer.Ordinal);

    // Replaced whole under _gate, read without it: readers (HTTP, tests) always see a complete list.
    private volatile ShardRun[] _runs;

    /// <summary>Creates the runtime (through dependency injection); <paramref name="kafka"/> makes the sources of Kafka shards.</summary>
    public ReplicatorRuntime(IOptions<ReplicatorOptions> options, ILoggerFactory loggerFactory, TimeProvider timeProvider, IKafkaSourceFactory? kafka = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _options = options.Value;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<ReplicatorRuntime>();
        _time = timeProvider;
        _kafka = kafka;
        _static = [.. _options.Shards.Select(shard => new ShardRun(shard.Name, new ShardReplicator(shard, _options, loggerFactory, timeProvider, kafka), null))];
        _staticNames = new HashSet<string>(_static.Select(s => s.Name), StringComparer.Ordinal);
        _runs = _static;
        _discovery = _options.Directory.Enabled ? new ShardDiscovery(_options, timeProvider, loggerFactory) : null;
    }

    /// <summary>The running shards' replicators, static and discovered (a snapshot).</summary>
    public IReadOnlyList<ShardReplicator> Shards => [.. _runs.Select(r => r.Replicator).OfType<ShardReplicator>()];

    /// <summary>Every current shard's status, including discovered shards that cannot run (<see cref="ShardState.Failed"/>).</summary>
    public IReadOnlyList<ShardStatus> Status => [.. _runs.Select(r => r.Status)];

    /// <summary>Since when the directory could not be read; null while it can (or without a directory).</summary>
    internal DateTimeOffset? DirectoryUnreachableSince => _discovery?.UnreachableSince;

    /// <inheritdoc />
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var running = new List<Task>(_static.Length + 1);
        foreach (var run in _static)
        {
            running.Add(run.Start(stoppingToken));
        }

        if (_discovery is { } discovery)
        {
            running.Add(Task.Run(() => DiscoverAsync(discovery, stoppingToken), CancellationToken.None));
        }

        return Task.WhenAll(running);
    }

    private async Task DiscoverAsync(ShardDiscovery discovery, CancellationToken stoppingToken)
    {
        try
        {
            await discovery.RunAsync(ApplyAsync, stoppingToken);
        }
        finally
        {
            // Shutdown: the discovered streams were cancelled with the host; each finishes its batch.
            await Task.WhenAll(_runs.Where(r => r.Discovered is not null).Select(StopQuietlyAsync).Concat(_stopping.Values));
        }
    }

    /// <summary>Makes the discovered streams match <paramref name="desired"/>: stops the unwanted and moved ones first, then starts the new ones.</summary>
    private async Task ApplyAsync(IReadOnlyList<DiscoveredShard> desired, CancellationToken stoppingToken)
    {
        var wanted = new Dictionary<string, DiscoveredShard>(StringComparer.Ordinal);
        foreach (var shard in desired)
        {
            if (_staticNames.Contains(shard.Name))
            {
                if (_shadowed.Add(shard.Name))
                {
                    LogShadowedByStatic(_logger, shard.Name);
                }

                continue;
            }

            wanted[shard.Name] = shard;
        }

        _shadowed.RemoveWhere(name => !desired.Any(d => string.Equals(d.Name, name, StringComparison.Ordinal)));

        var ending = new List<ShardRun>();
        foreach (var run in _runs)
        {
            if (run.Discovered is not { } current)
            {
                continue;
            }

            if (!wanted.TryGetValue(run.Name, out var next))
            {
                LogShardRetired(_logger, run.Name);
                ending.Add(run);
            }
            else if (!next.SameStream(current))
            {
                LogShardMoved(_logger, run.Name, current.OwnerRegion, next.OwnerRegion);
                ending.Add(run);
            }
        }

        foreach (var done in _stopping.Where(s => s.Value.IsCompleted).Select(s => s.Key).ToList())
        {
            _stopping.Remove(done);
        }

        if (ending.Count > 0)
        {
            // Stopped in the background: a stream slow to wind down (its source unreachable, a session a promotion
            // terminated under it) must not hold the streams of every other shard. A new stream of the same shard waits
            // for it below, so it never meets its predecessor on the replica or the slot.
            Publish(runs => [.. runs.Except(ending)]);
            foreach (var run in ending)
            {
                _stopping[run.Name] = StopInBackgroundAsync(run, _stopping.GetValueOrDefault(run.Name));
            }
        }

        var names = _runs.Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
        var starting = new List<ShardRun>();
        foreach (var shard in wanted.Values)
        {
            if (names.Contains(shard.Name))
            {
                continue;
            }

            if (shard.Options is { } options)
            {
                starting.Add(new ShardRun(shard.Name, new ShardReplicator(options, _options, _loggerFactory, _time, _kafka), shard));
                LogShardDiscovered(_logger, shard.Name, shard.OwnerRegion);
            }
            else
            {
                starting.Add(new ShardRun(shard.Name, null, shard));
                LogShardCannotRun(_logger, shard.Name, shard.Error ?? "");
            }
        }

        if (starting.Count > 0)
        {
            Publish(runs => [.. runs, .. starting]);
            foreach (var run in starting)
            {
                _ = _stopping.TryGetValue(run.Name, out var predecessor) && !predecessor.IsCompleted
                    ? StartAfterAsync(run, predecessor, stoppingToken)
                    : run.Start(stoppingToken);
            }
        }
    }

    private async Task StopInBackgroundAsync(ShardRun run, Task? predecessor)
    {
        if (predecessor is not null)
        {
            await predecessor;
        }

        await StopQuietlyAsync(run);
        if (run.Replicator is not null)
        {
            LogShardStopped(_logger, run.Name);
        }
    }

    private static async Task StartAfterAsync(ShardRun run, Task predecessor, CancellationToken stoppingToken)
    {
        await predecessor;
        if (!stoppingToken.IsCancellationRequested)
        {
            await run.Start(stoppingToken);
        }
    }

    private void Publish(Func<ShardRun[], ShardRun[]> change)
    {
        lock (_gate)
        {
            _runs = change(_runs);
        }
    }

    private async Task StopQuietlyAsync(ShardRun run)
    {
        try
        {
            await run.StopAsync();
        }
        catch (Exception ex)
        {
            // The stream is over either way; a failure while it wound down is worth a line, not the discovery loop.
            LogStopFailed(_logger, run.Name, ex);
        }

        if (run.Discovered?.Options is { } options)
        {
            // Idle pooled sessions would keep the shard's databases busy for an operator dropping them.
            ClearPool(options.SourceConnectionString);
            ClearPool(options.ReplicaConnectionString);
            ClearPool(ReplicaGuard.WritableConnectionString(options.ReplicaConnectionString));
        }
    }

    private static void ClearPool(string connectionString)
    {
        using var connection = new NpgsqlConnection(connectionString);
        NpgsqlConnection.ClearPool(connection);
    }

    /// <summary>One shard in the runtime: its replicator and the task running it, or (discovered) why it cannot run.</summary>
    private sealed class ShardRun(string name, ShardReplicator? replicator, DiscoveredShard? discovered)
    {
        private readonly Lock _gate = new();
        private CancellationTokenSource? _stop;
        private Task _running = Task.CompletedTask;
        private bool _stopped;

        public string Name { get; } = name;

        public ShardReplicator? Replicator { get; } = replicator;

        /// <summary>Null for a static shard.</summary>
        public DiscoveredShard? Discovered { get; } = discovered;

        public ShardStatus Status => Replicator?.Status ??
            new ShardStatus(Name, ShardState.Failed, double.NaN, null, LagWarning: true, 0, 0, 0, null, null, Discovered?.Error);

        /// <summary>Starts the stream, unless it was stopped already (while it waited for its predecessor to stop).</summary>
        public Task Start(CancellationToken stoppingToken)
        {
            lock (_gate)
            {
                if (Replicator is { } replicator && !_stopped)
                {
                    _stop = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                    var token = _stop.Token;
                    _running = Task.Run(() => replicator.RunAsync(token), CancellationToken.None);
                }

                return _running;
            }
        }

        public async Task StopAsync()
        {
            CancellationTokenSource? stop;
            Task running;
            lock (_gate)
            {
                _stopped = true;
                (stop, running) = (_stop, _running);
                _stop = null;
            }

            if (stop is null)
            {
                return;
            }

            await stop.CancelAsync();
            try
            {
                await running;
            }
            finally
            {
                stop.Dispose();
            }
        }
    }

    [LoggerMessage(EventId = 4611, Level = LogLevel.Information, Message = "Shard {Shard}: discovered in the directory; replicating from region {OwnerRegion}")]
    private static partial void LogShardDiscovered(ILogger logger, string shard, string ownerRegion);

    [LoggerMessage(EventId = 4612, Level = LogLevel.Information, Message = "Shard {Shard}: no longer replicated to this region (retired, not provisioning or active, or its standby moved); stopping")]
    private static partial void LogShardRetired(ILogger logger, string shard);

    [LoggerMessage(EventId = 4613, Level = LogLevel.Information, Message = "Shard {Shard}: owner moved from region {OldOwner} to {NewOwner}; restarting the stream against the new owner")]
    private static partial void LogShardMoved(ILogger logger, string shard, string oldOwner, string newOwner);

    [LoggerMessage(EventId = 4614, Level = LogLevel.Information, Message = "Shard {Shard}: stream stopped and released")]
    private static partial void LogShardStopped(ILogger logger, string shard);

    [LoggerMessage(EventId = 4615, Level = LogLevel.Error, Message = "Shard {Shard}: cannot replicate: {Reason}")]
    private static partial void LogShardCannotRun(ILogger logger, string shard, string reason);

    [LoggerMessage(EventId = 4616, Level = LogLevel.Warning, Message = "Shard {Shard}: listed both statically and in the directory; the static configuration wins")]
    private static partial void LogShadowedByStatic(ILogger logger, string shard);

    [LoggerMessage(EventId = 4617, Level = LogLevel.Warning, Message = "Shard {Shard}: the stream failed while stopping")]
    private static partial void LogStopFailed(ILogger logger, string shard, Exception exception);
}
