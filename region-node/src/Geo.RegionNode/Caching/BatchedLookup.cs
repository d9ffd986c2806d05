using Npgsql;

namespace Geo.RegionNode.Caching;

/// <summary>
/// Coalesces concurrent lookups by key into batches: while a batch's read runs, the keys asked for meanwhile gather for
/// the next one, so a burst of logins costs a few queries (<c>= ANY($1)</c>) instead of one round trip each, and an idle
/// node still answers a lone request at once. A key already gathering or being read is shared, not read twice (a NAS
/// retransmitting while the first read runs). The read is shared, so no caller's cancellation applies to it.
/// One bad key fails alone: when a batch fails for anything but an unreachable database, its keys are read one by one.
/// </summary>
internal sealed class BatchedLookup<TKey, TValue> where TKey : notnull
{
    private readonly Func<IReadOnlyList<TKey>, Task<IReadOnlyDictionary<TKey, TValue>>> _read;
    private readonly int _maxBatch;
    private readonly int _maxConcurrent;
    private readonly Lock _gate = new();
    private readonly Queue<TKey> _order = new();
    private readonly Dictionary<TKey, TaskCompletionSource<TValue?>> _waiting;
    private int _running;

    /// <param name="read">Reads a batch of distinct keys; a key missing from the result has no value (null).</param>
    /// <param name="maxBatch">Most keys in one read.</param>
    /// <param name="maxConcurrent">Most reads at once (each holds a database connection).</param>
    /// <param name="comparer">How keys compare (default: the type's own equality).</param>
    public BatchedLookup(Func<IReadOnlyList<TKey>, Task<IReadOnlyDictionary<TKey, TValue>>> read, int maxBatch = 256, int maxConcurrent = 4,
        IEqualityComparer<TKey>? comparer = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxConcurrent, 1);
        _read = read;
        _maxBatch = maxBatch;
        _maxConcurrent = maxConcurrent;
        _waiting = new Dictionary<TKey, TaskCompletionSource<TValue?>>(comparer);
    }

    /// <summary>Reads in flight (for tests and metrics).</summary>
    public int Running => Volatile.Read(ref _running);

    /// <summary>The value of <paramref name="key"/> (null: none); <paramref name="joined"/> tells whether an earlier request's read is shared.</summary>
    public Task<TValue?> GetAsync(TKey key, out bool joined)
    {
        TaskCompletionSource<TValue?> waiter;
        var start = false;
        lock (_gate)
        {
            if (_waiting.TryGetValue(key, out var existing))
            {
                joined = true;
                return existing.Task;
            }

            joined = false;
            waiter = new TaskCompletionSource<TValue?>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiting[key] = waiter;
            _order.Enqueue(key);
            if (_running < _maxConcurrent)
            {
                _running++;
                start = true;
            }
        }

        if (start)
        {
            _ = RunAsync();
        }

        return waiter.Task;
    }

    /// <summary>Reads batches until nothing is gathering; holds one of the <c>maxConcurrent</c> slots throughout.</summary>
    private async Task RunAsync()
    {
        var keys = new List<TKey>(Math.Min(_maxBatch, 64));
        var waiters = new List<TaskCompletionSource<TValue?>>(keys.Capacity);
        while (true)
        {
            keys.Clear();
            waiters.Clear();
            lock (_gate)
            {
                while (keys.Count < _maxBatch && _order.TryDequeue(out var key))
                {
                    keys.Add(key);
                    waiters.Add(_waiting[key]);
                }

                if (keys.Count == 0)
                {
                    _running--;
                    return;
                }
            }

            await ReadBatchAsync(keys, waiters);
            lock (_gate)
            {
                // Only now are they forgotten: a request for one of them while it was read shared that read.
                foreach (var key in keys)
                {
                    _waiting.Remove(key);
                }
            }
        }
    }

    private async Task ReadBatchAsync(List<TKey> keys, List<TaskCompletionSource<TValue?>> waiters)
    {
        try
        {
            var found = await _read(keys);
            for (var i = 0; i < keys.Count; i++)
            {
                waiters[i].TrySetResult(found.TryGetValue(keys[i], out var value) ? value : default);
            }
        }
        catch (Exception ex) when (keys.Count > 1 && !Unreachable(ex))
        {
            // Something in the batch made the read fail (a value PostgreSQL refuses): each key on its own, so that only the bad one fails.
            await Task.WhenAll(keys.Select((key, i) => ReadBatchAsync([key], [waiters[i]])));
        }
        catch (Exception ex)
        {
            foreach (var waiter in waiters)
            {
                waiter.TrySetException(ex);
            }
        }
    }

    /// <summary>The database could not be reached or answered too late: reading the keys one by one would only fail more slowly.</summary>
    private static bool Unreachable(Exception exception) =>
        exception is TimeoutException or OperationCanceledException || exception is NpgsqlException { IsTransient: true } and not PostgresException;
}
