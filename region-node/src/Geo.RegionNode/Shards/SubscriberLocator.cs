using Geo.RegionNode.Caching;
using Geo.RegionNode.Telemetry;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Geo.RegionNode.Shards;

/// <summary>
/// Finds the home region of a subscriber from the directory's placements, remembering answers in a bounded cache
/// (placements never move: a subscriber's home shard is fixed; its owner region is what changes). Lookups that miss are
/// read in batches, one query for all the subscribers asked for meanwhile. Unknown usernames are remembered briefly, so a
/// flood of bad names does not become a flood of queries.
/// </summary>
internal sealed class SubscriberLocator : IAsyncDisposable
{
    private static readonly TimeSpan NegativeTtl = TimeSpan.FromSeconds(5);
    private readonly BoundedCache<(string Tenant, string Username), string> _homes;
    private readonly BoundedCache<(string Tenant, string Username), bool> _unknown;
    private readonly BatchedLookup<(string Tenant, string Username), string> _reader;
    private readonly Histogram _batchSizes;
    private readonly NpgsqlDataSource _directory;

    public SubscriberLocator(IOptions<RegionNodeOptions> options, TimeProvider time, Metrics metrics)
    {
        // The batched placement read runs again and again: prepared once per connection, not parsed and planned each time.
        _directory = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(options.Value.DirectoryConnectionString) { MaxAutoPrepare = 16, AutoPrepareMinUsages = 2 }.ConnectionString);
        _homes = new(name: "placements", options.Value.PlacementCacheEntries, Timeout.InfiniteTimeSpan, time, metrics);
        _unknown = new(name: "unknown_usernames", capacity: 65_536, NegativeTtl, time, metrics);
        _reader = new(ReadAsync);
        _batchSizes = metrics.Histogram("geo_placement_read_batch_size", "Placements read from the directory by one query", Histogram.SizeBounds);
    }

    /// <summary>The home region if it is remembered; no query.</summary>
    public bool TryGetKnownHome(string tenantId, string username, out string home) => _homes.TryGet((tenantId, username), out home);

    /// <summary>Remembers a home region learnt elsewhere (the subscriber's row found in a shard owned here).</summary>
    public void Remember(string tenantId, string username, string home)
    {
        _homes.Set((tenantId, username), string.Intern(home));
        _unknown.Remove((tenantId, username));
    }

    public async ValueTask<string?> HomeRegionAsync(string tenantId, string username, CancellationToken cancellationToken)
    {
        var key = (tenantId, username);
        if (_homes.TryGet(key, out var home))
        {
            return home;
        }

        if (_unknown.TryGet(key, out _))
        {
            return null;
        }

        var found = await _reader.GetAsync(key, out _).WaitAsync(cancellationToken);
        if (found is null)
        {
            _unknown.Set(key, true);
        }

        return found;
    }

    /// <summary>Reads the placements of a batch of (tenant, username) and remembers them.</summary>
    private async Task<IReadOnlyDictionary<(string Tenant, string Username), string>> ReadAsync(IReadOnlyList<(string Tenant, string Username)> keys)
    {
        _batchSizes.Observe(keys.Count);
        await using var connection = await _directory.OpenConnectionAsync();
        await using var command = new NpgsqlCommand("""
            SELECT p.tenant_id, p.username, p.home_region
            FROM unnest($1::text[], $2::text[]) AS k(tenant_id, username)
            JOIN subscriber_placements p ON p.tenant_id = k.tenant_id AND p.username = k.username
            """, connection);
        command.Parameters.Add(new() { Value = keys.Select(k => k.Tenant).ToArray() });
        command.Parameters.Add(new() { Value = keys.Select(k => k.Username).ToArray() });
        var homes = new Dictionary<(string, string), string>(keys.Count);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            var key = (reader.GetString(0), reader.GetString(1));
            // One string per region, not one per subscriber remembered.
            var region = string.Intern(reader.GetString(2));
            homes[key] = region;
            _homes.Set(key, region);
            _unknown.Remove(key);
        }

        return homes;
    }

    /// <summary>
    /// Writes a subscriber's placement before its row exists (so a lookup never points nowhere); returns the
    /// home region on record, which differs from <paramref name="home"/> when the username is placed elsewhere.
    /// </summary>
    public async Task<string> PlaceAsync(string tenantId, string username, string home, CancellationToken cancellationToken)
    {
        var placed = string.Intern((string)await DirectoryWrites.InsertOrReadAsync(_directory, "subscriber_placements", ["tenant_id", "username", "home_region"], 2,
            "home_region", [tenantId, username, home], cancellationToken));
        _homes.Set((tenantId, username), placed);
        _unknown.Remove((tenantId, username));
        return placed;
    }

    /// <summary>The primary region of a tenant's NAS; null when there is no such NAS.</summary>
    public async Task<string?> NasPrimaryRegionAsync(string tenantId, string nasId, CancellationToken cancellationToken)
    {
        await using var connection = await _directory.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT primary_region FROM nas_devices WHERE tenant_id = $1 AND id = $2", connection);
        command.Parameters.Add(new() { Value = tenantId });
        command.Parameters.Add(new() { Value = nasId });
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    public ValueTask DisposeAsync() => _directory.DisposeAsync();
}
