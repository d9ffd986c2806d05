using BitFaster.Caching.Lru;
using Geo.RegionNode.Telemetry;

namespace Geo.RegionNode.Caching;

/// <summary>
/// An in-process cache with a size limit, for what a region node remembers per subscriber. At the limit the least recently
/// used entries make way one by one as new ones arrive (no clear-all, no stall); entries also expire after a lifetime
/// measured on the node's clock. <c>/metrics</c> shows, per cache (<c>cache="name"</c>): entries, capacity, lookups by
/// result, evictions and the hit ratio, so the memory a node holds at a million subscribers is known, not guessed.
/// </summary>
internal sealed class BoundedCache<TKey, TValue> where TKey : notnull
{
    private readonly ConcurrentLru<TKey, Entry> _entries;
    private readonly TimeProvider _time;
    private readonly long _lifetime;
    private long _hits;
    private long _misses;

    public BoundedCache(string name, int capacity, TimeSpan lifetime, TimeProvider time, Metrics metrics, IEqualityComparer<TKey>? comparer = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        // The LRU splits its capacity into three queues and needs at least one slot in each.
        Capacity = Math.Max(3, capacity);
        _entries = new ConcurrentLru<TKey, Entry>(Environment.ProcessorCount, Capacity, comparer ?? EqualityComparer<TKey>.Default);
        _time = time;
        _lifetime = lifetime == Timeout.InfiniteTimeSpan ? long.MaxValue : (long)(lifetime.TotalSeconds * time.TimestampFrequency);
        var labels = $"cache=\"{name}\"";
        metrics.Gauge("geo_cache_entries", "Entries held by an in-process cache", () => _entries.Count, labels);
        metrics.Gauge("geo_cache_capacity_entries", "The most entries an in-process cache holds before it evicts the least recently used", () => Capacity, labels);
        metrics.ObservedCounter("geo_cache_lookups_total", "In-process cache lookups by result (an expired entry is a miss)", () => Interlocked.Read(ref _hits), $"{labels},result=\"hit\"");
        metrics.ObservedCounter("geo_cache_lookups_total", "In-process cache lookups by result (an expired entry is a miss)", () => Interlocked.Read(ref _misses), $"{labels},result=\"miss\"");
        metrics.ObservedCounter("geo_cache_evictions_total", "Entries an in-process cache evicted to stay within its capacity", () => _entries.Metrics.Value?.Evicted ?? 0, labels);
        metrics.Gauge("geo_cache_hit_ratio", "Hits over lookups of an in-process cache since the node started", () => HitRatio, labels);
    }

    public int Capacity { get; }

    public int Count => _entries.Count;

    /// <summary>Hits over lookups since start (0 before the first lookup).</summary>
    public double HitRatio
    {
        get
        {
            var hits = Interlocked.Read(ref _hits);
            var total = hits + Interlocked.Read(ref _misses);
            return total == 0 ? 0 : (double)hits / total;
        }
    }

    public bool TryGet(TKey key, out TValue value)
    {
        if (_entries.TryGet(key, out var entry))
        {
            if (_time.GetTimestamp() < entry.Expires)
            {
                Interlocked.Increment(ref _hits);
                value = entry.Value;
                return true;
            }

            // Expired: gone now, so that it stops taking a slot (only if it is still the entry read, not a newer one).
            _entries.TryRemove(new KeyValuePair<TKey, Entry>(key, entry));
        }

        Interlocked.Increment(ref _misses);
        value = default!;
        return false;
    }

    /// <summary>Adds or replaces; <paramref name="lifetime"/> overrides the cache's own for this entry.</summary>
    public void Set(TKey key, TValue value, TimeSpan? lifetime = null)
    {
        var ticks = lifetime is { } own ? (long)(own.TotalSeconds * _time.TimestampFrequency) : _lifetime;
        var now = _time.GetTimestamp();
        _entries.AddOrUpdate(key, new Entry(value, ticks >= long.MaxValue - now ? long.MaxValue : now + ticks));
    }

    public void Remove(TKey key) => _entries.TryRemove(key);

    private sealed record Entry(TValue Value, long Expires);
}
