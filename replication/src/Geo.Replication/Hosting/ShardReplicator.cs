using System.Threading.Channels;
using Geo.Replication.Applying;
using Geo.Replication.Changes;
using Geo.Replication.PgOutput;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Geo.Replication.Hosting;

/// <summary>
/// Keeps one shard's replica current: streams from the stored position (seeding first if new), applies batches of whole
/// transactions and acknowledges only after each replica commit, so a crash anywhere loses and duplicates nothing.
/// </summary>
public sealed partial class ShardReplicator
{
    private readonly ShardReplicationOptions _shard;
    private readonly ReplicatorOptions _settings;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly IKafkaSourceFactory? _kafka;
    private readonly Lock _gate = new();
    private readonly Queue<DateTimeOffset> _pendingCommits = new();
    private bool _replicaPrepared;

    // Guarded by _gate.
    private ShardState _state = ShardState.Starting;
    private long _appliedTransactions;
    private long _appliedChanges;
    private long _missingRows;
    private DateTimeOffset? _lastAppliedCommit;
    private string? _position;
    private string? _lastError;
    private double? _lagBytes;

    /// <summary>Creates the replicator of one shard; <paramref name="kafka"/> makes its source when that is Kafka.</summary>
    public ShardReplicator(ShardReplicationOptions shard, ReplicatorOptions settings, ILoggerFactory loggerFactory, TimeProvider timeProvider, IKafkaSourceFactory? kafka = null)
    {
        ArgumentNullException.ThrowIfNull(shard);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _shard = shard;
        _settings = settings;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<ShardReplicator>();
        _time = timeProvider;
        _kafka = kafka;
    }

    /// <summary>The shard's name.</summary>
    public string Name => _shard.Name;

    /// <summary>Called after every replica commit (on the applier's task; keep it short).</summary>
    public Action<AppliedBatch>? Applied { get; set; }

    /// <summary>The slot name this shard's pgoutput stream uses.</summary>
    public string SlotName => _shard.SlotName ?? ReplicationSlots.DefaultSlotName(
        new NpgsqlConnectionStringBuilder(_shard.SourceConnectionString).Database ?? _shard.Name, _settings.Region);

    /// <summary>The stream's key in the replica's <c>replication_progress</c>.</summary>
    public string SourceName => _shard.Source == ReplicationSourceKind.Kafka ? _shard.Kafka.StreamName : $"pgoutput:{SlotName}";

    /// <summary>A snapshot of the stream's state and lag.</summary>
    public ShardStatus Status
    {
        get
        {
            var now = _time.GetUtcNow();
            lock (_gate)
            {
                double lag;
                if (_state == ShardState.Streaming)
                {
                    lag = _pendingCommits.Count > 0 ? Math.Max(0, (now - _pendingCommits.Peek()).TotalSeconds) : 0;
                }
                else
                {
                    lag = _lastAppliedCommit is { } last ? Math.Max(0, (now - last).TotalSeconds) : double.NaN;
                }

                var warning = double.IsNaN(lag) ? _state != ShardState.Streaming : lag > _settings.LagWarningSeconds;
                return new ShardStatus(_shard.Name, _state, lag, _lagBytes, warning, _appliedTransactions, _appliedChanges, _missingRows,
                    _lastAppliedCommit, _position, _lastError);
            }
        }
    }

    /// <summary>Runs the stream until cancelled, retrying with backoff whenever it breaks.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var backoff = TimeSpan.FromMilliseconds(250);
        while (!cancellationToken.IsCancellationRequested)
        {
            var appliedBefore = Status.AppliedTransactions;
            try
            {
                await RunOnceAsync(cancellationToken);
            }
            catch (Exception ex) when (cancellationToken.IsCancellationRequested)
            {
                // Stopping: whatever the stream's last operation ended with (cancelled, or a session terminated meanwhile
                // by a promotion), the replica holds a consistent prefix and its position; there is nothing to retry.
                if (ex is not OperationCanceledException)
                {
                    LogStreamBrokeWhileStopping(_logger, _shard.Name, ex.Message);
                }

                break;
            }
            catch (Exception ex)
            {
                // A process boundary for this shard: whatever broke the stream, the replica still holds a consistent
                // prefix and its position, so starting over from it is always safe; other shards keep running.
                SetState(ShardState.Retrying, ex.Message);
                LogStreamBroke(_logger, _shard.Name, backoff.TotalMilliseconds, ex);
            }

            if (Status.AppliedTransactions > appliedBefore)
            {
                backoff = TimeSpan.FromMilliseconds(250);
            }

            try
            {
                await Task.Delay(backoff, _time, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(10).Ticks));
        }

        SetState(ShardState.Stopped, null);
    }

    private async Task RunOnceAsync(CancellationToken cancellationToken)
    {
        SetState(ShardState.Starting, null);
        if (_shard.ApplyTenantMigrations && _shard.Source == ReplicationSourceKind.PgOutput)
        {
            await BoundedAsync("checking the source's migrations", RequireMigratedSourceAsync, cancellationToken);
        }

        if (_shard.PrepareReplica && !_replicaPrepared)
        {
            await BoundedAsync("preparing the replica database",
                token => ReplicaGuard.PrepareAsync(_shard.ReplicaConnectionString, _shard.ApplyTenantMigrations, _logger, token), cancellationToken);
            _replicaPrepared = true;
        }

        var applier = await ReplicaApplier.OpenAsync(_shard.ReplicaConnectionString, SourceName, _logger, cancellationToken);
        IChangeSource? source = null;
        (Task Applier, Task Source)? unfinished = null;
        try
        {
            source = CreateSource();
            lock (_gate)
            {
                _position = applier.Stored?.Token;
                _lastAppliedCommit ??= applier.Stored?.SourceCommitAt;
                _pendingCommits.Clear();
            }

            var snapshot = await source.OpenAsync(applier.Stored?.Token, cancellationToken);
            if (snapshot is not null)
            {
                SetState(ShardState.Syncing, null);
                await InitialSync.RunAsync(snapshot, applier, _logger, cancellationToken);
                lock (_gate)
                {
                    _position = snapshot.Position.Token;
                }
            }

            SetState(ShardState.Streaming, null);
            LogStreaming(_logger, _shard.Name, source.Name, applier.Stored?.Token ?? "(start)");
            await StreamAsync(source, applier, (applierWork, sourceWork) => unfinished = (applierWork, sourceWork), cancellationToken);
        }
        finally
        {
            // A connection is never closed under an operation still running on it: Npgsql's replication read, disposed
            // mid-read, completes its iterator twice, and that exception, thrown on a socket thread, ends the process.
            // Each connection is closed once the tasks using it are done (the applier's at once when its batch is).
            await DisposeWhenDoneAsync(unfinished?.Applier, applier);
            if (source is not null)
            {
                await DisposeWhenDoneAsync(unfinished?.Source, source);
            }
        }
    }

    /// <summary>Disposes <paramref name="resource"/> now when <paramref name="work"/> is done (or none), else once it is, in the background.</summary>
    private async Task DisposeWhenDoneAsync(Task? work, IAsyncDisposable resource)
    {
        if (work is null || work.IsCompleted)
        {
            await DisposeQuietlyAsync(resource);
            return;
        }

        _ = work.ContinueWith(_ => DisposeQuietlyAsync(resource), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default).Unwrap();
    }

    private async Task DisposeQuietlyAsync(IAsyncDisposable resource)
    {
        try
        {
            await resource.DisposeAsync();
        }
        catch (Exception ex)
        {
            // The stream is over; a connection that fails to close says so and goes.
            LogStreamBrokeWhileStopping(_logger, _shard.Name, ex.Message);
        }
    }

    /// <summary>How long a step before streaming may take before it counts as broken (then logged and retried).</summary>
    private static readonly TimeSpan StartStepTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Runs a step before streaming with a deadline: a step that hangs (seen in end-to-end runs: a new shard's stream
    /// silent for two minutes after its first attempt) is reported with its name and retried, instead of holding the
    /// shard's replication without a word.
    /// </summary>
    private static async Task BoundedAsync(string step, Func<CancellationToken, Task> run, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(StartStepTimeout);
        try
        {
            await run(deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ReplicationException($"{step} did not complete within {StartStepTimeout.TotalSeconds:F0} s");
        }
    }

    /// <summary>
    /// A tenant shard is streamed only once its source holds every tenant migration of this build and its fence: the
    /// publication is created from the tables that exist, and a table that a later migration of the same run creates
    /// would otherwise stay out of it (a shard being provisioned is announced before its database is migrated).
    /// </summary>
    private async Task RequireMigratedSourceAsync(CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(_shard.SourceConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("""
            SELECT (SELECT max(version) FROM geo_schema_migrations), EXISTS (SELECT 1 FROM shard_fence)
            """, connection);
        int? version = null;
        var fenced = false;
        try
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            version = reader.IsDBNull(0) ? null : reader.GetInt32(0);
            fenced = reader.GetBoolean(1);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UndefinedTable)
        {
        }

        var latest = Schema.Migrations.MigrationSet.Tenant.LatestVersion;
        if (version is null || version < latest || !fenced)
        {
            throw new ReplicationException(
                $"the source is not ready to stream yet (tenant schema version {version?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"} of {latest}, fence {(fenced ? "written" : "not written")}): waiting for its provisioning");
        }
    }

    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(15);

    /// <summary>
    /// How long a cancelled stream is given to stop on its own before its connections are closed under it. Short: an
    /// apply transaction cut there rolls back whole (the replica stays at a transaction boundary), and a promotion of the
    /// shard waits for this stream's applier session to go. Npgsql's replication read was seen to ignore the cancellation
    /// for the whole of a longer grace.
    /// </summary>
    private static readonly TimeSpan CancelGrace = TimeSpan.FromSeconds(2);

    /// <summary>While nothing is applied, what the stream heard of its source is recorded at most this often.</summary>
    internal static TimeSpan HeardInterval { get; } = TimeSpan.FromSeconds(1);

    private async Task StreamAsync(IChangeSource source, ReplicaApplier applier, Action<Task, Task> leftRunning, CancellationToken cancellationToken)
    {
        var queue = Channel.CreateBounded<ChangeTransaction>(new BoundedChannelOptions(_settings.QueueTransactions)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var reading = ReadAsync(source, queue.Writer, stop.Token);
        var applying = ApplyAsync(source, applier, queue.Reader, stop.Token);
        var polling = PollSourceAsync(source, stop.Token);
        try
        {
            var first = await Task.WhenAny(reading, applying);
            if (first == reading && !cancellationToken.IsCancellationRequested)
            {
                // The source broke or ended the stream (its region may be lost). What it sent are whole, committed transactions:
                // the applier drains the completed queue and records what was heard last, so that a promotion loses no more than
                // what never reached this region.
                using var drainTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                var drained = await Task.WhenAny(applying, Task.Delay(StopGrace, _time, drainTimeout.Token));
                await drainTimeout.CancelAsync();
                if (drained != applying && !cancellationToken.IsCancellationRequested)
                {
                    LogDrainSlow(_logger, _shard.Name, StopGrace.TotalSeconds);
                }
            }

            await stop.CancelAsync();
            var all = Task.WhenAll(reading, applying, polling);
            try
            {
                // Bounded: a replication read that does not observe the cancellation must not hold the shutdown (nor a
                // promotion, which waits for this stream's applier session to go).
                await all.WaitAsync(CancelGrace, CancellationToken.None);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested || first.IsCompletedSuccessfully)
            {
            }
            catch (TimeoutException)
            {
                // The source's server ends the replication session (the read then fails on its own); the connections are
                // closed once every task of the stream is done.
                LogStopSlow(_logger, _shard.Name, CancelGrace.TotalSeconds);
                if (source is PgOutputSource pgoutput)
                {
                    await pgoutput.EndServerSessionAsync(_logger);
                }
            }

            // Surfaces the failure that ended the stream (or says the source closed it).
            await first;
            if (!cancellationToken.IsCancellationRequested)
            {
                throw new ReplicationException($"{source.Name}: the source stream ended");
            }
        }
        finally
        {
            // Whatever ended the stream, its tasks are told to stop, and those still running keep their connections
            // until they are done.
            if (!stop.IsCancellationRequested)
            {
                try
                {
                    await stop.CancelAsync();
                }
                catch (AggregateException ex)
                {
                    LogStreamBrokeWhileStopping(_logger, _shard.Name, ex.Message);
                }
            }

            var applierWork = Task.WhenAll(applying, polling);
            if (!reading.IsCompleted || !applierWork.IsCompleted)
            {
                leftRunning(applierWork, reading);
            }
        }
    }

    private async Task ReadAsync(IChangeSource source, ChannelWriter<ChangeTransaction> writer, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var transaction in source.ReadAsync(cancellationToken))
            {
                lock (_gate)
                {
                    _pendingCommits.Enqueue(transaction.CommitTime);
                }

                await writer.WriteAsync(transaction, cancellationToken);
            }
        }
        finally
        {
            writer.TryComplete();
        }
    }

    private async Task ApplyAsync(IChangeSource source, ReplicaApplier applier, ChannelReader<ChangeTransaction> reader, CancellationToken cancellationToken)
    {
        var heardSource = source as IHeardSource;
        var batch = new List<ChangeTransaction>();
        var commitTimes = new List<DateTimeOffset>();
        while (await WaitToApplyAsync(reader, heardSource, applier, cancellationToken))
        {
            batch.Clear();
            var changes = 0;
            while (changes < _settings.MaxBatchChanges && reader.TryRead(out var transaction))
            {
                batch.Add(transaction);
                changes += transaction.Events.Count;
            }

            // Once the batch is out of the queue: it covers the source up to what was heard only if nothing was handed out after it.
            var heard = heardSource?.Heard;

            // Not cancelled by shutdown: a batch that started is committed (or fails) as a whole, then acknowledged.
            var result = await applier.ApplyAsync(batch, heard, CancellationToken.None);
            await source.AcknowledgeAsync(batch[^1].Position, CancellationToken.None);
            var appliedAt = _time.GetUtcNow();

            commitTimes.Clear();
            foreach (var transaction in batch)
            {
                commitTimes.Add(transaction.CommitTime);
            }

            lock (_gate)
            {
                for (var i = 0; i < batch.Count && _pendingCommits.Count > 0; i++)
                {
                    _pendingCommits.Dequeue();
                }

                _appliedTransactions += result.Transactions;
                _appliedChanges += result.Changes;
                _missingRows += result.MissingRows;
                if (result.Transactions > 0)
                {
                    _lastAppliedCommit = batch[^1].CommitTime;
                    _position = applier.Stored?.Token;
                }
            }

            Applied?.Invoke(new AppliedBatch(result.Transactions, result.Changes, commitTimes.ToArray(), appliedAt));
        }

        // The source ended the stream and everything it sent is applied: record the last thing it said.
        await RecordHeardAsync(heardSource, applier);
    }

    /// <summary>
    /// Waits until transactions are queued (false once the queue is complete and empty). Meanwhile, every
    /// <see cref="HeardInterval"/>, records what the stream heard of its source (keepalives move it while nothing is applied).
    /// </summary>
    private async Task<bool> WaitToApplyAsync(ChannelReader<ChangeTransaction> reader, IHeardSource? heardSource, ReplicaApplier applier, CancellationToken cancellationToken)
    {
        while (heardSource is not null && !reader.TryPeek(out _))
        {
            using var tick = new CancellationTokenSource(HeardInterval, _time);
            using var either = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, tick.Token);
            try
            {
                return await reader.WaitToReadAsync(either.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                await RecordHeardAsync(heardSource, applier);
            }
        }

        return await reader.WaitToReadAsync(cancellationToken);
    }

    private async Task RecordHeardAsync(IHeardSource? heardSource, ReplicaApplier applier)
    {
        if (heardSource?.Heard is not { } heard || !await applier.RecordHeardAsync(heard, CancellationToken.None))
        {
            return;
        }

        lock (_gate)
        {
            _position = applier.Stored?.Token;
        }
    }

    /// <summary>Measures bytes behind (source WAL position minus what the replica confirmed) and warns about lag.</summary>
    private async Task PollSourceAsync(IChangeSource source, CancellationToken cancellationToken)
    {
        var lastWarning = DateTimeOffset.MinValue;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), _time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                double? bytes = null;
                if (_shard.Source == ReplicationSourceKind.PgOutput)
                {
                    try
                    {
                        await using var connection = new NpgsqlConnection(_shard.SourceConnectionString);
                        await connection.OpenAsync(cancellationToken);
                        await using var command = new NpgsqlCommand("SELECT pg_current_wal_lsn()::text", connection);
                        if (Lsn.TryParse((string?)await command.ExecuteScalarAsync(cancellationToken), out var current))
                        {
                            bytes = current > source.ConfirmedLsn ? current - source.ConfirmedLsn : 0;
                        }
                    }
                    catch (NpgsqlException)
                    {
                        // Unknown while the source is unreachable; the stream itself reports the outage.
                    }
                }

                lock (_gate)
                {
                    _lagBytes = bytes;
                }

                var status = Status;
                var now = _time.GetUtcNow();
                if (status.LagWarning && now - lastWarning > TimeSpan.FromSeconds(30))
                {
                    lastWarning = now;
                    LogLagWarning(_logger, _shard.Name, status.LagSeconds, _settings.LagWarningSeconds);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private IChangeSource CreateSource() => _shard.Source switch
    {
        ReplicationSourceKind.PgOutput => new PgOutputSource(_shard.SourceConnectionString, SlotName, _shard.Publication, _loggerFactory.CreateLogger<PgOutputSource>(), _time),
        ReplicationSourceKind.Kafka => _kafka?.Create(_shard.Kafka, _shard.ReplicaConnectionString, _loggerFactory)
            ?? throw new ReplicationException($"shard {_shard.Name}: its source is Kafka, and this program was built without the Kafka source"),
        _ => throw new ReplicationException($"unknown source kind {_shard.Source}"),
    };

    private void SetState(ShardState state, string? error)
    {
        lock (_gate)
        {
            _state = state;
            if (error is not null || state == ShardState.Streaming)
            {
                _lastError = error ?? _lastError;
            }
        }
    }

    [LoggerMessage(EventId = 4301, Level = LogLevel.Information, Message = "Shard {Shard}: streaming {Source} from {Position}")]
    private static partial void LogStreaming(ILogger logger, string shard, string source, string position);

    [LoggerMessage(EventId = 4302, Level = LogLevel.Error, Message = "Shard {Shard}: the stream broke; retrying in {BackoffMs} ms")]
    private static partial void LogStreamBroke(ILogger logger, string shard, double backoffMs, Exception exception);

    [LoggerMessage(EventId = 4090, Level = LogLevel.Warning, Message = "Shard {Shard}: the stream did not stop within {Seconds} s of being cancelled; ending its session on the source")]
    private static partial void LogStopSlow(ILogger logger, string shard, double seconds);

    [LoggerMessage(EventId = 4091, Level = LogLevel.Warning, Message = "Shard {Shard}: the source stream ended and the transactions it had sent were not all applied within {Seconds} s; stopping")]
    private static partial void LogDrainSlow(ILogger logger, string shard, double seconds);

    [LoggerMessage(EventId = 4304, Level = LogLevel.Information, Message = "Shard {Shard}: the stream ended while stopping ({Reason})")]
    private static partial void LogStreamBrokeWhileStopping(ILogger logger, string shard, string reason);

    [LoggerMessage(EventId = 4303, Level = LogLevel.Warning, Message = "Shard {Shard}: {LagSeconds:F1} s behind (warning threshold {Threshold} s)")]
    private static partial void LogLagWarning(ILogger logger, string shard, double lagSeconds, double threshold);
}
