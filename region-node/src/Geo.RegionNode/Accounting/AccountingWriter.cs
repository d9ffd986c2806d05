using System.Diagnostics;
using System.Threading.Channels;
using Geo.RegionNode.Caching;
using Geo.RegionNode.Shards;
using Geo.RegionNode.Telemetry;
using Npgsql;

namespace Geo.RegionNode.Accounting;

/// <summary>What became of an accounting request given to the group commit.</summary>
internal enum AccountingOutcome
{
    /// <summary>Committed: the NAS is answered.</summary>
    Committed,

    /// <summary>Not committed (the database is unreachable, this node is fenced): unanswered, the NAS retransmits.</summary>
    Failed,

    /// <summary>Left out for what it holds (counted in <c>geo_accounting_rejected_total</c>); the rest of its batch committed.</summary>
    Rejected,
}

/// <summary>
/// One shard's group-commit queue: requests queue while a transaction runs and the next takes them all (up to
/// <see cref="RegionNodeOptions.CommitMaxBatch"/>); the NAS is answered only once its event is committed. A transaction
/// that lost a race is started over. One transaction's work: <see cref="GroupCommit"/>.
/// </summary>
internal sealed partial class AccountingWriter : IAsyncDisposable
{
    private const int MaxAttempts = 4;

    private readonly ShardHandle _shard;
    private readonly GroupCommit _commit;
    private readonly int _maxBatch;
    private readonly ILogger _logger;
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly List<AccountingWork> _work;
    private readonly List<int> _rejected = [];
    private readonly CommittedState.RecentMap<AccountingEvent, bool> _refused = new(4096, RefusedKey.Instance);
    private readonly Metrics _metrics;
    private readonly Task _loop;
    private readonly Histogram _batchSizes;
    private readonly Histogram _commitLatency;
    private readonly Counter _committedRequests;
    private readonly Counter _failedBatches;
    private readonly Counter _fenced;
    private readonly Counter _retries;
    private readonly Counter _splits;
    private int _depth;

    public AccountingWriter(ShardHandle shard, IRegionCache cache, Action<ShardHandle, ExhaustionRequest> exhausted, Metrics metrics, TimeProvider time,
        RegionNodeOptions options, ILogger logger)
    {
        _shard = shard;
        _commit = new GroupCommit(shard, cache, exhausted, metrics, time, options);
        _maxBatch = options.CommitMaxBatch;
        _work = new List<AccountingWork>(_maxBatch);
        _logger = logger;
        _metrics = metrics;
        _batchSizes = metrics.Histogram("geo_accounting_commit_batch_size", "Accounting requests per group-commit transaction", Histogram.SizeBounds);
        _commitLatency = metrics.Histogram("geo_accounting_commit_duration_seconds", "Duration of one group-commit transaction", Histogram.LatencyBounds);
        _committedRequests = metrics.Counter("geo_accounting_committed_total", "Accounting requests committed");
        _failedBatches = metrics.Counter("geo_accounting_commit_failures_total", "Group-commit transactions that failed (their requests get no answer; the NAS retransmits)");
        _fenced = metrics.Counter("geo_accounting_fenced_total", "Group commits refused because this node does not hold the shard's current epoch");
        _retries = metrics.Counter("geo_accounting_commit_retries_total", "Group commits started over after a race another transaction won (a session, bucket or balance changed since it was read, a concurrent insert, a deadlock)");
        _splits = metrics.Counter("geo_accounting_commit_splits_total", "Group commits split in halves to find a request the database refuses on its own");
        metrics.Gauge("geo_accounting_queue_depth", "Accounting requests waiting for a commit", () => Volatile.Read(ref _depth), $"shard=\"{shard}\"");
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Queues an event; the task says whether it was committed, left out (refused alone), or not committed.</summary>
    public Task<AccountingOutcome> SubmitAsync(AccountingEvent accountingEvent) => Enqueue(new Pending(new AccountingWork(accountingEvent, null)));

    /// <summary>Closes every open session of a NAS that restarted (Accounting-On/Off), in the commit order of its other events.</summary>
    public Task<AccountingOutcome> CloseNasSessionsAsync(string nasId, DateTimeOffset at, string cause) =>
        Enqueue(new Pending(new AccountingWork(null, new NasRestart(nasId, at, cause))));

    private Task<AccountingOutcome> Enqueue(Pending pending)
    {
        Interlocked.Increment(ref _depth);
        if (!_queue.Writer.TryWrite(pending))
        {
            Interlocked.Decrement(ref _depth);
            pending.Completion.TrySetResult(AccountingOutcome.Failed);
        }

        return pending.Completion.Task;
    }

    /// <summary>The group-commit loop of the shard, for the life of the writer.</summary>
    private async Task RunAsync()
    {
        try
        {
            await CommitBatchesAsync();
        }
        catch (Exception ex)
        {
            // A bug, never an expected path. Say so loudly, and refuse from now on instead of queueing requests nobody
            // would commit: each one (queued or new) learns at once that it was not committed, and the NAS retransmits.
            LogWriterStopped(_logger, _shard, ex);
            _queue.Writer.TryComplete(ex);
            while (_queue.Reader.TryRead(out var pending))
            {
                Interlocked.Decrement(ref _depth);
                pending.Completion.TrySetResult(AccountingOutcome.Failed);
            }

            throw;
        }
    }

    private async Task CommitBatchesAsync()
    {
        var batch = new List<Pending>(_maxBatch);
        while (await _queue.Reader.WaitToReadAsync())
        {
            batch.Clear();
            while (batch.Count < _maxBatch && _queue.Reader.TryRead(out var pending))
            {
                Interlocked.Decrement(ref _depth);
                if (pending.Work.Event is { } e && _refused.TryGet(e, out _))
                {
                    // A retransmission of a request the database refused on its own: refused again, without a transaction.
                    Reject(pending, "refused_again");
                }
                else
                {
                    batch.Add(pending);
                }
            }

            try
            {
                if (batch.Count > 0)
                {
                    await CommitIsolatingAsync(batch);
                }
            }
            catch (FencedException ex)
            {
                _fenced.Increment();
                LogFenced(_logger, _shard, ex.Message);
            }
            catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or TimeoutException or WriteConflictException)
            {
                _failedBatches.Increment();
                LogCommitFailed(_logger, _shard, batch.Count, ex);
            }
            finally
            {
                // Also when something unexpected ends the loop: every request of the batch gets its answer (those
                // committed or refused before the failure already have theirs).
                foreach (var pending in batch)
                {
                    pending.Completion.TrySetResult(AccountingOutcome.Failed);
                }
            }
        }
    }

    /// <summary>
    /// Commits <paramref name="part"/> and answers its requests. When the database refuses the batch for what one request
    /// holds (a value it cannot store, a reference or check it violates), the batch is split in halves, each committed
    /// on its own, until the request is found alone: it is refused, counted, logged and remembered, and every other
    /// request of the batch is committed in its order. A failure of the database itself fails the batch (the NAS retransmits).
    /// </summary>
    private async Task CommitIsolatingAsync(List<Pending> part)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            await CommitWithRetriesAsync(part);
        }
        catch (Exception ex) when (IsRequestFault(ex))
        {
            if (part.Count == 1)
            {
                Refuse(part[0], ex);
                return;
            }

            _splits.Increment();
            var half = part.Count / 2;
            await CommitIsolatingAsync(part.GetRange(0, half));
            await CommitIsolatingAsync(part.GetRange(half, part.Count - half));
            return;
        }

        _committedRequests.Add(part.Count - _rejected.Count);
        _batchSizes.Observe(part.Count);
        _commitLatency.Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
        foreach (var index in _rejected)
        {
            Reject(part[index], "unknown_subscriber");
        }

        foreach (var pending in part)
        {
            pending.Completion.TrySetResult(AccountingOutcome.Committed);
        }
    }

    /// <summary>
    /// Commits the batch, starting over from its reads when it lost a race that a fresh read resolves: a session,
    /// bucket or balance changed by another transaction since it was read, a session or bucket another node inserted first, a
    /// deadlock. The other failures end the batch unanswered (the NAS retransmits).
    /// </summary>
    private async Task CommitWithRetriesAsync(List<Pending> batch)
    {
        _work.Clear();
        foreach (var pending in batch)
        {
            _work.Add(pending.Work);
        }

        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await _commit.CommitAsync(_work, _rejected);
                return;
            }
            catch (Exception ex) when (attempt < MaxAttempts && ex is WriteConflictException or PostgresException
            {
                SqlState: PostgresErrorCodes.UniqueViolation or PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure,
            })
            {
                _retries.Increment();
                LogRetry(_logger, _shard, batch.Count, attempt, ex.Message);
            }
        }
    }

    /// <summary>
    /// A failure that one request's content can cause and that the same content causes again: PostgreSQL refusing a value
    /// (SQLSTATE class 22) or an integrity rule other than a unique key (class 23; a unique key is a race, retried), or our
    /// own arithmetic or argument checks. Never a failure of the database, the connection or a lost race.
    /// </summary>
    internal static bool IsRequestFault(Exception ex) => ex switch
    {
        PostgresException pg => pg.SqlState.StartsWith("22", StringComparison.Ordinal) ||
            (pg.SqlState.StartsWith("23", StringComparison.Ordinal) && pg.SqlState != PostgresErrorCodes.UniqueViolation),
        ArithmeticException or ArgumentException or FormatException => true,
        _ => false,
    };

    private void Refuse(Pending pending, Exception ex)
    {
        if (pending.Work.Event is { } e)
        {
            _refused.Set(e, true);
            LogRefused(_logger, _shard, e.NasId, e.AcctSessionId, ex is PostgresException pg ? pg.SqlState : ex.GetType().Name, ex);
        }
        else if (pending.Work.Restart is { } restart)
        {
            LogRefused(_logger, _shard, restart.NasId, "(NAS restart)", ex is PostgresException pg ? pg.SqlState : ex.GetType().Name, ex);
        }

        Reject(pending, "refused_by_database");
    }

    private void Reject(Pending pending, string reason)
    {
        if (pending.Completion.TrySetResult(AccountingOutcome.Rejected))
        {
            AccountingRejections.Count(_metrics, reason);
        }
    }

    /// <summary>Finishes what is queued (graceful shutdown or loss of the shard), then stops.</summary>
    public async ValueTask DisposeAsync()
    {
        _commit.Dispose();
        _queue.Writer.TryComplete();
        await _loop;
    }

    /// <summary>
    /// A retransmission is the same request, but its event time (taken on arrival when the NAS sends none) is not: a refused
    /// request is known again by everything else it reports.
    /// </summary>
    private sealed class RefusedKey : IEqualityComparer<AccountingEvent>
    {
        public static readonly RefusedKey Instance = new();

        public bool Equals(AccountingEvent? x, AccountingEvent? y) => x is not null && y is not null && (x with { EventTime = default }) == (y with { EventTime = default });

        public int GetHashCode(AccountingEvent obj) => HashCode.Combine(obj.NasId, obj.AcctSessionId, obj.Kind, obj.Counters);
    }

    private sealed class Pending(AccountingWork work)
    {
        public AccountingWork Work { get; } = work;

        public TaskCompletionSource<AccountingOutcome> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    [LoggerMessage(EventId = 1200, Level = LogLevel.Error, Message = "Shard {Shard}: group commit of {Count} accounting requests failed; none was answered")]
    private static partial void LogCommitFailed(ILogger logger, ShardHandle shard, int count, Exception exception);

    [LoggerMessage(EventId = 1204, Level = LogLevel.Warning,
        Message = "Shard {Shard}: accounting request of NAS {NasId}, session {AcctSessionId} refused by the database ({SqlState}); the rest of its group commit was committed, retransmissions of it are refused")]
    private static partial void LogRefused(ILogger logger, ShardHandle shard, string nasId, string acctSessionId, string sqlState, Exception exception);

    [LoggerMessage(EventId = 1203, Level = LogLevel.Critical, Message = "Shard {Shard}: the group-commit loop stopped; accounting of this shard is no longer committed")]
    private static partial void LogWriterStopped(ILogger logger, ShardHandle shard, Exception exception);

    [LoggerMessage(EventId = 1202, Level = LogLevel.Information, Message = "Shard {Shard}: group commit of {Count} accounting requests started over (attempt {Attempt} lost a race: {Reason})")]
    private static partial void LogRetry(ILogger logger, ShardHandle shard, int count, int attempt, string reason);

    [LoggerMessage(EventId = 1201, Level = LogLevel.Warning, Message = "Shard {Shard}: batch rolled back and not acknowledged, fenced: {Reason}")]
    private static partial void LogFenced(ILogger logger, ShardHandle shard, string reason);
}
