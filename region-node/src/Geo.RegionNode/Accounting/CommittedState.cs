using System.Collections.Concurrent;
using Geo.RegionNode.Shards;

namespace Geo.RegionNode.Accounting;

/// <summary>
/// What one shard's group-commit loop last committed, so it need not read back its own writes. Safe because every dependent
/// write compares and sets (session xmin, bucket/balance values) and a failed check forgets all; plans, which no write checks,
/// are forgotten on profile change and re-read every <c>planAge</c> (see <see cref="ChargingAccount.Reusable"/>). <see cref="Forget"/> is thread-safe.
/// </summary>
internal sealed class CommittedState(int capacity, TimeSpan planAge)
{
    private readonly RecentMap<(string NasId, string AcctSessionId), SessionState> _sessions = new(capacity);
    private readonly RecentMap<Guid, ChargingAccount> _accounts = new(capacity);
    private readonly RecentMap<Guid, bool> _subscribers = new(capacity);
    private readonly Dictionary<string, Guid> _subscribersByName = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _forgotten = new();
    private long _epoch = -1;

    public bool Enabled => capacity > 0;

    /// <summary>Forgets the account of <paramref name="username"/> before the next group commit uses it (its plan or balance changed).</summary>
    public void Forget(string username)
    {
        if (Enabled)
        {
            _forgotten.Enqueue(username);
        }
    }

    /// <summary>
    /// Called by the loop before a group commit looks anything up: applies what was forgotten since, and drops
    /// everything when the shard's epoch is not the one it was remembered under (the shard changed hands since).
    /// </summary>
    public void Prepare(ShardHandle shard)
    {
        if (shard.Epoch != _epoch)
        {
            Clear();
            _epoch = shard.Epoch;
        }

        while (_forgotten.TryDequeue(out var username))
        {
            if (_subscribersByName.Remove(username, out var id))
            {
                _accounts.Remove(id);
            }
        }
    }

    /// <summary>A copy of the session as last committed, for the group commit to change.</summary>
    public bool TryGetSession((string NasId, string AcctSessionId) key, out SessionState session)
    {
        if (_sessions.TryGet(key, out var remembered))
        {
            session = remembered.Copy(remembered.ReadVersion);
            return true;
        }

        session = null!;
        return false;
    }

    /// <summary>A copy of the account as last committed, when charging may use it without reading it (<see cref="ChargingAccount.Reusable"/>).</summary>
    public ChargingAccount? GetAccount(Guid subscriberId, ShardHandle shard, DateTimeOffset now) =>
        _accounts.TryGet(subscriberId, out var remembered) ? remembered.Reusable(shard, now, planAge) : null;

    /// <summary>True when the subscriber was found in the shard by an earlier group commit (its account, or its existence, was read).</summary>
    public bool IsKnownSubscriber(Guid subscriberId) => _subscribers.TryGet(subscriberId, out _) || _accounts.TryGet(subscriberId, out _);

    /// <summary>Remembers subscribers found in the shard, so that a later event naming one need not have it checked again.</summary>
    public void RememberSubscribers(IEnumerable<Guid> found)
    {
        foreach (var id in found)
        {
            _subscribers.Set(id, true);
        }
    }

    /// <summary>
    /// Records a commit: sessions at row version <paramref name="writtenVersion"/>, charged accounts as written, read ones as
    /// read. Existing entries are updated in place so the GC does not promote a copy per request.
    /// </summary>
    public void Remember(IEnumerable<SessionState> sessions, uint writtenVersion, IEnumerable<ChargingAccount> read, IEnumerable<ChargingAccount> charged)
    {
        foreach (var session in sessions)
        {
            var version = session.Dirty ? writtenVersion : session.ReadVersion;
            if (!session.Open)
            {
                // Nothing changes a closed session again: a late or repeated request for it is read and found stale.
                _sessions.Remove((session.NasId, session.AcctSessionId));
            }
            else if (_sessions.TryGet((session.NasId, session.AcctSessionId), out var remembered))
            {
                remembered.Take(session, version);
            }
            else
            {
                _sessions.Set((session.NasId, session.AcctSessionId), session.Copy(version));
            }
        }

        foreach (var account in read)
        {
            RememberAccount(account.Copy(account.Plan, written: false));
        }

        foreach (var account in charged)
        {
            if (!_accounts.TryGet(account.SubscriberId, out var remembered) || remembered.LoadedAt != account.LoadedAt || !remembered.TakeWritten(account))
            {
                RememberAccount(account.Copy(account.Plan, written: true));
            }
        }
    }

    public void Clear()
    {
        _sessions.Clear();
        _accounts.Clear();
        _subscribers.Clear();
        _subscribersByName.Clear();
    }

    private void RememberAccount(ChargingAccount account)
    {
        _accounts.Set(account.SubscriberId, account);
        _subscribersByName[account.Username] = account.SubscriberId;
        if (_subscribersByName.Count > 4 * capacity)
        {
            // Names of accounts the map has since dropped; rebuilt from what it still holds.
            _subscribersByName.Clear();
            foreach (var kept in _accounts.Values)
            {
                _subscribersByName[kept.Username] = kept.SubscriberId;
            }
        }
    }

    /// <summary>
    /// A map of bounded size that keeps what was used recently: entries live in a current generation and the one
    /// before it; when the current one is full it becomes the previous one (the oldest generation is dropped), and
    /// an entry found in the previous one moves to the current one.
    /// </summary>
    internal sealed class RecentMap<TKey, TValue>(int capacity, IEqualityComparer<TKey>? comparer = null)
        where TKey : notnull
    {
        private readonly int _generation = Math.Max(1, capacity / 2);
        private Dictionary<TKey, TValue> _current = new(comparer);
        private Dictionary<TKey, TValue> _previous = new(comparer);

        public IEnumerable<TValue> Values => _current.Values.Concat(_previous.Where(p => !_current.ContainsKey(p.Key)).Select(p => p.Value));

        public bool TryGet(TKey key, out TValue value)
        {
            if (capacity <= 0)
            {
                value = default!;
                return false;
            }

            if (_current.TryGetValue(key, out value!))
            {
                return true;
            }

            if (_previous.Remove(key, out value!))
            {
                Set(key, value);
                return true;
            }

            return false;
        }

        public void Set(TKey key, TValue value)
        {
            if (capacity <= 0)
            {
                return;
            }

            _previous.Remove(key);
            _current[key] = value;
            if (_current.Count >= _generation)
            {
                // The oldest generation is dropped; its table (grown to a generation's size) holds the next one.
                var dropped = _previous;
                dropped.Clear();
                _previous = _current;
                _current = dropped;
            }
        }

        public void Remove(TKey key)
        {
            _current.Remove(key);
            _previous.Remove(key);
        }

        public void Clear()
        {
            _current.Clear();
            _previous.Clear();
        }
    }
}
