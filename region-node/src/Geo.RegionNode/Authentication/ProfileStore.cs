using Geo.RegionNode.Caching;
using Geo.RegionNode.Operations;
using Geo.RegionNode.Shards;
using Npgsql;

namespace Geo.RegionNode.Authentication;

/// <summary>Auth profiles and open-session counts: from the cache when it can answer, from PostgreSQL otherwise.</summary>
internal sealed class ProfileStore(IRegionCache cache, Metrics metrics)
{
    private readonly Counter _cacheHits = metrics.Counter("geo_profile_lookups_total", "Auth profile lookups by source", "source=\"cache\"");
    private readonly Counter _databaseHits = metrics.Counter("geo_profile_lookups_total", "Auth profile lookups by source", "source=\"database\"");
    private readonly Counter _sessionCountsFromDatabase = metrics.Counter("geo_session_counts_from_database_total", "Simultaneous-use counts answered by PostgreSQL because the cache could not");

    public async ValueTask<AuthProfile?> GetAsync(ShardHandle shard, string username, CancellationToken cancellationToken)
    {
        if (await cache.GetProfileAsync(shard.DatabaseName, username) is { } cached)
        {
            _cacheHits.Increment();
            return cached;
        }

        _databaseHits.Increment();
        await using var connection = await shard.DataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand("""
            SELECT s.id, s.plan_id, s.status, s.valid_until, s.password_enc, s.framed_ip, coalesce(b.amount_micros, 0),
                   EXISTS (SELECT 1 FROM quota_buckets q WHERE q.subscriber_id = s.id AND q.period_start <= now()
                           AND (q.period_end IS NULL OR q.period_end > now()) AND q.used >= q.granted)
            FROM subscribers s LEFT JOIN balances b ON b.subscriber_id = s.id
            WHERE s.username = $1 AND s.status <> 'deleted'
            """, connection);
        command.Parameters.Add(new() { Value = username });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        var profile = new AuthProfile(reader.GetGuid(0), reader.GetString(1), reader.GetString(2) != "active",
            reader.IsDBNull(3) ? null : reader.GetFieldValue<DateTimeOffset>(3), (byte[])reader[4],
            reader.IsDBNull(5) ? null : reader.GetFieldValue<System.Net.IPAddress>(5), reader.GetInt64(6), reader.GetBoolean(7));
        cache.SetProfile(shard.DatabaseName, username, profile);
        return profile;
    }

    public async ValueTask<long> CountOpenSessionsAsync(ShardHandle shard, Guid subscriberId, CancellationToken cancellationToken)
    {
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
