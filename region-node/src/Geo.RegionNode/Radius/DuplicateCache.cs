using System.Collections.Concurrent;
using Geo.Radius;

namespace Geo.RegionNode.Radius;

/// <summary>
/// RFC 5080 duplicate detection: a retransmission (same NAS, source port, code, identifier and
/// authenticator) within the window is answered with the cached response and never executed twice; one
/// that arrives while the original is still being handled is dropped (the original's answer is coming).
/// Expiry walks a queue in arrival order, so it costs only what expires.
/// </summary>
internal sealed class DuplicateCache(TimeSpan window, TimeProvider time)
{
    private readonly ConcurrentDictionary<RadiusRequestKey, Entry> _entries = new();
    private readonly ConcurrentQueue<(RadiusRequestKey Key, long Expires)> _expiry = new();

    public int Count => _entries.Count;

    /// <summary>Registers a request; says whether it is new, in progress, or answered (with the answer).</summary>
    public DuplicateState Begin(RadiusRequestKey key, out byte[]? response)
    {
        var now = time.GetTimestamp();
        var entry = new Entry(now + (long)(window.TotalSeconds * time.TimestampFrequency));
        var existing = _entries.GetOrAdd(key, entry);
        if (ReferenceEquals(existing, entry))
        {
            _expiry.Enqueue((key, entry.Expires));
            response = null;
            return DuplicateState.New;
        }

        response = existing.Response;
        return response is null ? DuplicateState.InProgress : DuplicateState.Answered;
    }

    /// <summary>Stores the answer sent for a request.</summary>
    public void Complete(RadiusRequestKey key, ReadOnlySpan<byte> response)
    {
        if (_entries.TryGetValue(key, out var entry))
        {
            entry.Response = response.ToArray();
        }
    }

    /// <summary>Forgets a request that got no answer, so that its retransmission is handled again.</summary>
    public void Abandon(RadiusRequestKey key) => _entries.TryRemove(key, out _);

    /// <summary>Drops entries whose window has passed.</summary>
    public void Expire()
    {
        var now = time.GetTimestamp();
        while (_expiry.TryPeek(out var head) && head.Expires <= now && _expiry.TryDequeue(out head))
        {
            if (_entries.TryGetValue(head.Key, out var entry) && entry.Expires == head.Expires)
            {
                _entries.TryRemove(head.Key, out _);
            }
        }
    }

    private sealed class Entry(long expires)
    {
        public long Expires { get; } = expires;

        private byte[]? _response;

        public byte[]? Response
        {
            get => Volatile.Read(ref _response);
            set => Volatile.Write(ref _response, value);
        }
    }
}

internal enum DuplicateState
{
    New,
    InProgress,
    Answered,
}
