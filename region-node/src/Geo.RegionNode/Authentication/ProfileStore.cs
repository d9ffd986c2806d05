using System.Runtime.CompilerServices;
using Geo.RegionNode.Caching;
using Geo.RegionNode.Shards;
using Geo.RegionNode.Survival;
using Geo.RegionNode.Telemetry;
using Npgsql;

namespace Geo.RegionNode.Authentication;

/// <summary>
/// Auth profiles and open-session counts: from the node's memory, the region's cache (Redis) or PostgreSQL. What is not in
/// memory is read in batches per shard (<see cref="BatchedLookup{TKey,TValue}"/>): one Redis MGET for the batch, then one
/// query for those Redis did not have. The cold path of a mass re-login costs a few round trips per batch, not per subscriber.
/// </summary>
internal sealed class ProfileStore(IRegionCache cache, SurvivalJournal journal, Metrics metrics)
{
    private const string Help = "Auth profile lookups by where the profile came from (shared_database_read: joined another request's read of the same subscriber)";
    private readonly Counter _memoryHits = metrics.Counter("geo_profile_lookups_total", Help, "source=\"memory\"");
    private readonly Counter _redisHits = metrics.Counter("geo_profile_lookups_total", Help, "source=\"redis\"");
    private readonly Counter _databaseReads = metrics.Counter("geo_profile_lookups_total", Help, "source=\"database\"");
    private readonly Counter _sharedReads = metrics.Counter("geo_profile_lookups_total", Help, "source=\"shared_database_read\"");
    private readonly Histogram _batchSizes = metrics.Histogram("geo_profile_read_batch_size", "Subscribers whose profiles one batched read looked up", Histogram.SizeBounds);
    private readonly Histogram _redisReads = metrics.Histogram("geo_profile_read_duration_seconds", "Time of one batched profile read, by step", Histogram.LatencyBounds, "step=\"redis\"");
    private readonly Histogram _databaseReadTimes = metrics.Histogram("geo_profile_read_duration_seconds", "Time of one batched profile read, by step", Histogram.LatencyBounds, "step=\"database\"");
    private readonly Counter _sessionCountsFromDatabase = metrics.Counter("geo_session_counts_from_database_total", "Simultaneous-use counts answered by PostgreSQL because the cache could not");
    private readonly ConditionalWeakTable<ShardHandle, BatchedLookup<string, AuthProfile>> _readers = [];
    private readonly ConditionalWeakTable<ShardHandle, BatchedLookup<Guid, string[]>> _replicaSessions = [];

    public async ValueTask<AuthProfile?> GetAsync(ShardHandle shard, string username, CancellationToken cancellationToken)
    {
        if (shard.IsReplica)
        {
            // A replica stood by for here is read as it is, in batches, never through the caches: they hold what this
            // region owns, and a copy from a replica would outlive the owner's next change.
            return await _readers.GetValue(shard, s => new BatchedLookup<string, AuthProfile>(keys => QueryAsync(s, keys), comparer: StringComparer.Ordinal))
                .GetAsync(username, out _).WaitAsync(cancellationToken);
        }

        if (cache.TryGetLocalProfile(shard.DatabaseName, username, out var local))
        {
            _memoryHits.Increment();
            return local;
        }

        // Misses for one subscriber while its profile is being read (its NAS retransmitting while the first read runs,
        // several of its sessions starting at once) share that read: measured before this, a cold cache under load read
        // the same profile up to 26 times in a second.
        var reading = _readers.GetValue(shard, s => new BatchedLookup<string, AuthProfile>(keys => ReadAsync(s, keys), comparer: StringComparer.Ordinal))
            .GetAsync(username, out var joined);
        if (joined)
        {
            _sharedReads.Increment();
        }

        return await reading.WaitAsync(cancellationToken);
    }

    /// <summary>Reads a batch of profiles: Redis first, PostgreSQL for the rest (which then go into the cache).</summary>
    private async Task<IReadOnlyDictionary<string, AuthProfile>> ReadAsync(ShardHandle shard, IReadOnlyList<string> usernames)
    {
        _batchSizes.Observe(usernames.Count);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var cached = await cache.GetProfilesAsync(shard.DatabaseName, usernames);
        _redisReads.Observe(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
        var profiles = new Dictionary<string, AuthProfile>(usernames.Count, StringComparer.Ordinal);
        var missing = new List<string>(usernames.Count);
        for (var i = 0; i < usernames.Count; i++)
        {
            if (cached[i] is { } profile)
            {
                profiles[usernames[i]] = profile;
            }
            else
            {
                missing.Add(usernames[i]);
            }
        }

        _redisHits.Add(profiles.Count);
        if (missing.Count == 0)
        {
            return profiles;
        }

        _databaseReads.Add(missing.Count);
        started = System.Diagnostics.Stopwatch.GetTimestamp();
        var read = await QueryAsync(shard, missing);
        foreach (var (username, profile) in read)
        {
            profiles[username] = profile;
        }

        _databaseReadTimes.Observe(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
        cache.SetProfiles(shard.DatabaseName, read.Select(p => (p.Key, p.Value)).ToList());
        return profiles;
    }

    /// <summary>Reads profiles from the shard's database.</summary>
    private static async Task<IReadOnlyDictionary<string, AuthProfile>> QueryAsync(ShardHandle shard, IReadOnlyList<string> usernames)
    {
        await using var connection = await shard.DataSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand("""
            SELECT s.username, s.id, s.plan_id, s.status, s.valid_until, s.password_enc, s.framed_ip, coalesce(b.amount_micros, 0),
                   EXISTS (SELECT 1 FROM quota_buckets q WHERE q.subscriber_id = s.id AND q.period_start <= now()
                           AND (q.period_end IS NULL OR q.period_end > now()) AND q.used >= q.granted)
            FROM subscribers s LEFT JOIN balances b ON b.subscriber_id = s.id
            WHERE s.username = ANY($1) AND s.status <> 'deleted'
            """, connection);
        command.Parameters.Add(new() { Value = usernames as string[] ?? usernames.ToArray() });
        var read = new Dictionary<string, AuthProfile>(usernames.Count, StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            read[reader.GetString(0)] = new AuthProfile(reader.GetGuid(1), string.Intern(reader.GetString(2)), reader.GetString(3) != "active",
                reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4), (byte[])reader[5],
                reader.IsDBNull(6) ? null : reader.GetFieldValue<System.Net.IPAddress>(6), reader.GetInt64(7), reader.GetBoolean(8));
        }

        return read;
    }

    /// <summary>The sessions a replica shows open, for each of a batch of subscribers that has any.</summary>
    private static async Task<IReadOnlyDictionary<Guid, string[]>> OpenSessionsAsync(ShardHandle replica, IReadOnlyList<Guid> subscribers)
    {
        await using var command = replica.DataSource.CreateCommand("SELECT subscriber_id, acct_session_id FROM sessions WHERE subscriber_id = ANY($1) AND state = 'open'");
        command.Parameters.Add(new() { Value = subscribers as Guid[] ?? subscribers.ToArray() });
        var open = new Dictionary<Guid, List<string>>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            var id = reader.GetGuid(0);
            if (!open.TryGetValue(id, out var sessions))
            {
                open[id] = sessions = [];
            }

            sessions.Add(reader.GetString(1));
        }

        return open.ToDictionary(o => o.Key, o => o.Value.ToArray());
    }

    /// <summary>
    /// A subscriber's open sessions. On a replica (its owner unreachable): those the replica shows open, plus those
    /// started here since (in the survivability journal), less those stopped here.
    /// </summary>
    public async ValueTask<long> CountOpenSessionsAsync(ShardHandle shard, Guid subscriberId, string username, CancellationToken cancellationToken)
    {
        if (shard.IsReplica)
        {
            // Read in batches, as the profiles are: a mass re-login at the standby asks this of every subscriber.
            var replicated = await _replicaSessions.GetValue(shard, s => new BatchedLookup<Guid, string[]>(ids => OpenSessionsAsync(s, ids)))
                .GetAsync(subscriberId, out _).WaitAsync(cancellationToken);
            var open = new HashSet<string>(replicated ?? [], StringComparer.Ordinal);

            if (journal.Holds(shard.TenantId, shard.HomeRegion))
            {
                var (started, stopped) = await journal.SessionsAsync(shard.TenantId, shard.HomeRegion, username, cancellationToken);
                open.UnionWith(started);
                open.ExceptWith(stopped);
            }

            return open.Count;
        }

        if (await cache.CountSessionsAsync(shard.DatabaseName, subscriberId) is { } cached)
        {
            return cached;
        }

        _sessionCountsFromDatabase.Increment();
        await using var connection = await shard.DataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT count(*) FROM sessions WHERE subscriber_id = $1 AND state = 'open'", connection);
        command.Parameters.Add(new() { Value = subscriberId });
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }
}
