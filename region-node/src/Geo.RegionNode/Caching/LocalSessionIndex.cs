using System.Collections.Concurrent;

namespace Geo.RegionNode.Caching;

/// <summary>
/// This node's in-memory copy of the region's active-session index: the open sessions of every subscriber, kept
/// current by the node's own accounting and by the changes the other nodes of the region publish through Redis.
/// It answers Simultaneous-Use counts without a round trip. It is only trusted between a load from PostgreSQL and
/// the next loss of the Redis connection (changes published meanwhile would be missed); changes that arrive while a
/// load runs are held and applied after it, in order, so a session stopped during the load is not left open.
/// Adding and removing are idempotent (a session is a set member), so a change seen twice does no harm.
/// </summary>
internal sealed class LocalSessionIndex
{
    private readonly ConcurrentDictionary<(string Database, Guid Subscriber, Guid Session), byte> _sessions = new();
    private readonly ConcurrentDictionary<(string Database, Guid Subscriber), int> _counts = new();
    private readonly Lock _loading = new();
    private List<SessionChange>? _held;
    private volatile bool _valid;

    /// <summary>True while counts can be trusted: loaded, and no change missed since.</summary>
    public bool Valid => _valid;

    /// <summary>Open sessions indexed (for metrics).</summary>
    public int Count => _sessions.Count;

    /// <summary>The subscriber's open sessions; null while the index cannot be trusted.</summary>
    public long? CountSessions(string database, Guid subscriber) =>
        _valid ? _counts.TryGetValue((database, subscriber), out var count) ? count : 0 : null;

    /// <summary>A change from this node or another one of the region; held while a load runs.</summary>
    public void Apply(SessionChange change)
    {
        lock (_loading)
        {
            if (_held is not null)
            {
                _held.Add(change);
                return;
            }
        }

        ApplyNow(change);
    }

    /// <summary>Changes may have been missed (Redis connection lost): counts come from PostgreSQL until the next load.</summary>
    public void Invalidate() => _valid = false;

    /// <summary>Starts a load: forgets everything, holds incoming changes until <see cref="EndLoad"/>.</summary>
    public void BeginLoad()
    {
        lock (_loading)
        {
            _valid = false;
            _held = [];
            _sessions.Clear();
            _counts.Clear();
        }
    }

    /// <summary>One open session read from PostgreSQL during a load.</summary>
    public void Load(string database, Guid subscriber, Guid session) => ApplyNow(new SessionChange(true, database, subscriber, session));

    /// <summary>Applies the changes held during the load, then trusts the index if <paramref name="complete"/>.</summary>
    public void EndLoad(bool complete)
    {
        lock (_loading)
        {
            foreach (var change in _held ?? [])
            {
                ApplyNow(change);
            }

            _held = null;
            _valid = complete;
        }
    }

    private void ApplyNow(SessionChange change)
    {
        var member = (change.Database, change.Subscriber, change.Session);
        if (change.Open ? _sessions.TryAdd(member, 0) : _sessions.TryRemove(member, out _))
        {
            _counts.AddOrUpdate((change.Database, change.Subscriber), change.Open ? 1 : 0, (_, count) => Math.Max(0, count + (change.Open ? 1 : -1)));
        }
    }
}

/// <summary>A session opened or closed, as published on the region's session channel.</summary>
internal readonly record struct SessionChange(bool Open, string Database, Guid Subscriber, Guid Session)
{
    /// <summary>"origin +database subscriber session" (or "-…"): the publishing node skips its own messages, applied when made.</summary>
    public string Format(Guid origin) => $"{origin:N} {(Open ? '+' : '-')}{Database} {Subscriber:N} {Session:N}";

    public static bool TryParse(string? text, out Guid origin, out SessionChange change)
    {
        change = default;
        origin = default;
        var parts = text?.Split(' ');
        if (parts is not { Length: 4 } || !Guid.TryParseExact(parts[0], "N", out origin) || parts[1].Length < 2 || (parts[1][0] != '+' && parts[1][0] != '-') ||
            !Guid.TryParseExact(parts[2], "N", out var subscriber) || !Guid.TryParseExact(parts[3], "N", out var session))
        {
            return false;
        }

        change = new SessionChange(parts[1][0] == '+', parts[1][1..], subscriber, session);
        return true;
    }
}
