using System.Diagnostics;
using System.Threading.Channels;
using Geo.RegionNode.Caching;
using Geo.RegionNode.Shards;
using Geo.RegionNode.Telemetry;
using Npgsql;

namespace Geo.RegionNode.Accounting;

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
    private readonly Task _loop;
    private readonly Histogram _batchSizes;
    private readonly Histogram _commitLatency;
    private readonly Counter _committedRequests;
    private readonly Counter _failedBatches;
    private readonly Counter _fenced;
    private readonly Counter _retries;
    private int _depth;

    public AccountingWriter(ShardHandle shard, IRegionCache cache, Action<ShardHandle, ExhaustionRequest> exhausted, Metrics metrics, TimeProvider time,
        RegionNodeOptions options, ILogger logger)
    {
        _shard = shard;
        _commit = new GroupCommit(shard, cache, exhausted, metrics, time, options);
        _maxBatch = options.CommitMaxBatch;
        _work = new List<AccountingWork>(_maxBatch);
        _logger = logger;
        _batchSizes = metrics.Histogram("geo_accounting_commit_batch_size", "Accounting requests per group-commit transaction", Histogram.SizeBounds);
        _commitLatency = metrics.Histogram("geo_accounting_commit_duration_seconds", "Duration of one group-commit transaction", Histogram.LatencyBounds);
        _committedRequests = metrics.Counter("geo_accounting_committed_total", "Accounting requests committed");
        _failedBatches = metrics.Counter("geo_accounting_commit_failures_total", "Group-commit transactions that failed (their requests get no answer; the NAS retransmits)");
        _fenced = metrics.Counter("geo_accounting_fenced_total", "Group commits refused because this node does not hold the shard's current epoch");
        _retries = metrics.Counter("geo_accounting_commit_retries_total", "Group commits started over after a race another transaction won (a session, bucket or balance changed since it was read, a concurrent insert, a deadlock)");
        metrics.Gauge("geo_accounting_queue_depth", "Accounting requests waiting for a commit", () => Volatile.Read(ref _depth), $"shard=\"{shard}\"");
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Queues an event; the task says whether it was committed.</summary>
    public Task<bool> SubmitAsync(AccountingEvent accountingEvent) => Enqueue(new Pending(new AccountingWork(accountingEvent, null)));

    /// <summary>Closes every open session of a NAS that restarted (Accounting-On/Off), in the commit order of its other events.</summary>
    public Task<bool> CloseNasSessionsAsync(string nasId, DateTimeOffset at, string cause) => Enqueue(new Pending(new AccountingWork(null, new NasRestart(nasId, at, cause))));

    private Task<bool> Enqueue(Pending pending)
    {
        Interlocked.Increment(ref _depth);
        if (!_queue.Writer.TryWrite(pending))
        {
            Interlocked.Decrement(ref _depth);
            pending.Completion.TrySetResult(false);
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
                pending.Completion.TrySetResult(false);
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
                batch.Add(pending);
            }

            Interlocked.Add(ref _depth, -batch.Count);
            var outcome = false;
            var started = Stopwatch.GetTimestamp();
            try
            {
                await CommitWithRetriesAsync(batch);
                outcome = true;
                _committedRequests.Add(batch.Count);
                _batchSizes.Observe(batch.Count);
                _commitLatency.Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
            }
            catch (FencedException ex)
            {
                _fenced.Increment();
                LogFenced(_logger, _shard, ex.Held, ex.Current);
            }
            catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or TimeoutException or WriteConflictException)
            {
                _failedBatches.Increment();
                LogCommitFailed(_logger, _shard, batch.Count, ex);
            }
            finally
            {
                // Also when something unexpected ends the loop: every request of the batch gets its answer.
                foreach (var pending in batch)
                {
                    pending.Completion.TrySetResult(outcome);
                }
            }
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
                await _commit.CommitAsync(_work);
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

    /// <summary>Finishes what is queued (graceful shutdown or loss of the shard), then stops.</summary>
    public async ValueTask DisposeAsync()
    {
        _commit.Dispose();
        _queue.Writer.TryComplete();
        await _loop;
    }

    private sealed class Pending(AccountingWork work)
    {
        public AccountingWork Work { get; } = work;

        public TaskCompletionSource<bool> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    [LoggerMessage(EventId = 1200, Level = LogLevel.Error, Message = "Shard {Shard}: group commit of {Count} accounting requests failed; none was answered")]
    private static partial void LogCommitFailed(ILogger logger, ShardHandle shard, int count, Exception exception);

    [LoggerMessage(EventId = 1203, Level = LogLevel.Critical, Message = "Shard {Shard}: the group-commit loop stopped; accounting of this shard is no longer committed")]
    private static partial void LogWriterStopped(ILogger logger, ShardHandle shard, Exception exception);

    [LoggerMessage(EventId = 1202, Level = LogLevel.Information, Message = "Shard {Shard}: group commit of {Count} accounting requests started over (attempt {Attempt} lost a race: {Reason})")]
    private static partial void LogRetry(ILogger logger, ShardHandle shard, int count, int attempt, string reason);

    [LoggerMessage(EventId = 1201, Level = LogLevel.Warning, Message = "Shard {Shard}: write refused, this node holds epoch {Held} but the fence is at {Current}")]
    private static partial void LogFenced(ILogger logger, ShardHandle shard, long held, long? current);
}
