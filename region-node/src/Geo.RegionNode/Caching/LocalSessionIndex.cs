namespace Geo.RegionNode.Caching;

/// <summary>
/// In-memory copy of the region's active-session index for Simultaneous-Use counts without a round trip. Trusted only
/// between a PostgreSQL load and the next Redis disconnect; changes during a load are applied after it, in order.
/// Adds and removes are idempotent (set members), so a change seen twice does no harm.
/// </summary>
internal sealed class LocalSessionIndex(TimeProvider time)
{
    /// <summary>How long a closed session is remembered, so that its open arriving late (published by another node) is ignored.</summary>
    private static readonly TimeSpan TombstoneLife = TimeSpan.FromSeconds(60);

    private readonly Dictionary<(string Database, Guid Subscriber, Guid Session), byte> _sessions = [];
    private readonly Dictionary<(string Database, Guid Subscriber), int> _counts = [];
    private readonly HashSet<Guid> _closed = [];
    private readonly Queue<(Guid Session, long Until)> _closedOrder = new();
    private readonly Lock _gate = new();
    private HashSet<string> _loaded = new(StringComparer.Ordinal);
    private readonly HashSet<string> _forgottenDuringLoad = new(StringComparer.Ordinal);
    private List<SessionChange>? _held;
    private volatile bool _valid;

    /// <summary>True while counts can be trusted: loaded, and no change missed since.</summary>
    public bool Valid => _valid;

    /// <summary>Open sessions indexed (for metrics).</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _sessions.Count;
            }
        }
    }

    /// <summary>The subscriber's open sessions; null while the index cannot be trusted or the shard was not part of the last load.</summary>
    public long? CountSessions(string database, Guid subscriber)
    {
        lock (_gate)
        {
            return _valid && _loaded.Contains(database) ? _counts.GetValueOrDefault((database, subscriber)) : null;
        }
    }

    /// <summary>A change from this node or another one of the region; held while a load runs.</summary>
    public void Apply(SessionChange change)
    {
        lock (_gate)
        {
            if (_held is not null)
            {
                _held.Add(change);
                return;
            }

            ApplyLocked(change);
        }
    }

    /// <summary>Changes may have been missed (Redis connection lost): counts come from PostgreSQL until the next load. True if it was trusted until now.</summary>
    public bool Invalidate()
    {
        lock (_gate)
        {
            var was = _valid;
            _valid = false;
            return was;
        }
    }

    /// <summary>Starts a load: forgets everything, holds incoming changes until <see cref="EndLoad"/>.</summary>
    public void BeginLoad()
    {
        lock (_gate)
        {
            _valid = false;
            _held = [];
            _sessions.Clear();
            _counts.Clear();
            _loaded = new HashSet<string>(StringComparer.Ordinal);
            _forgottenDuringLoad.Clear();
        }
    }

    /// <summary>
    /// The shard's ownership period here ended (released, or a new epoch): another region may have opened and closed its
    /// sessions meanwhile, so what this index holds of it is forgotten, and PostgreSQL answers its counts until a load
    /// includes it again. A load running now does not bring it back.
    /// </summary>
    public void Forget(string database)
    {
        lock (_gate)
        {
            _loaded.Remove(database);
            if (_held is not null)
            {
                _forgottenDuringLoad.Add(database);
            }

            foreach (var member in _sessions.Keys.Where(k => k.Database == database).ToList())
            {
                _sessions.Remove(member);
            }

            foreach (var key in _counts.Keys.Where(k => k.Database == database).ToList())
            {
                _counts.Remove(key);
            }
        }
    }

    /// <summary>One open session read from PostgreSQL during a load.</summary>
    public void Load(string database, Guid subscriber, Guid session)
    {
        lock (_gate)
        {
            ApplyLocked(new SessionChange(true, database, subscriber, session));
        }
    }

    /// <summary>Every open session of <paramref name="database"/> has been loaded.</summary>
    public void Loaded(string database)
    {
        lock (_gate)
        {
            if (!_forgottenDuringLoad.Contains(database))
            {
                _loaded.Add(database);
            }
        }
    }

    /// <summary>
    /// Applies the changes held during the load, then trusts the index if <paramref name="complete"/> — and only if
    /// nothing invalidated it meanwhile (<paramref name="stillConnected"/> is asked under the same lock as <see cref="Invalidate"/>).
    /// </summary>
    public void EndLoad(bool complete, Func<bool>? stillConnected = null)
    {
        lock (_gate)
        {
            foreach (var change in _held ?? [])
            {
                ApplyLocked(change);
            }

            _held = null;
            _valid = complete && (stillConnected?.Invoke() ?? true);
        }
    }

    private void ApplyLocked(SessionChange change)
    {
        var now = time.GetTimestamp();
        while (_closedOrder.TryPeek(out var oldest) && oldest.Until <= now)
        {
            _closedOrder.Dequeue();
            _closed.Remove(oldest.Session);
        }

        var member = (change.Database, change.Subscriber, change.Session);
        if (change.Open)
        {
            // An open that arrives after its close (the two published by different nodes) must not reopen it.
            if (!_closed.Contains(change.Session) && _sessions.TryAdd(member, 0))
            {
                _counts[(change.Database, change.Subscriber)] = _counts.GetValueOrDefault((change.Database, change.Subscriber)) + 1;
            }

            return;
        }

        if (_closed.Add(change.Session))
        {
            _closedOrder.Enqueue((change.Session, now + (long)(TombstoneLife.TotalSeconds * time.TimestampFrequency)));
        }

        if (_sessions.Remove(member))
        {
            var left = _counts.GetValueOrDefault((change.Database, change.Subscriber)) - 1;
            if (left > 0)
            {
                _counts[(change.Database, change.Subscriber)] = left;
            }
            else
            {
                _counts.Remove((change.Database, change.Subscriber));
            }
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
