using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Geo.RegionNode.Shards;

/// <summary>
/// Finds the home region of a subscriber from the directory's placements, remembering answers in memory
/// (placements never move: a subscriber's home shard is fixed; its owner region is what changes).
/// Unknown usernames are remembered briefly, so a flood of bad names does not become a flood of queries.
/// </summary>
internal sealed class SubscriberLocator(IOptions<RegionNodeOptions> options, TimeProvider time) : IAsyncDisposable
{
    private static readonly TimeSpan NegativeTtl = TimeSpan.FromSeconds(5);
    private readonly ConcurrentDictionary<(string Tenant, string Username), string> _homes = new();
    private readonly ConcurrentDictionary<(string Tenant, string Username), DateTimeOffset> _unknown = new();
    private readonly NpgsqlDataSource _directory = NpgsqlDataSource.Create(options.Value.DirectoryConnectionString);

    public async ValueTask<string?> HomeRegionAsync(string tenantId, string username, CancellationToken cancellationToken)
    {
        var key = (tenantId, username);
        if (_homes.TryGetValue(key, out var home))
        {
            return home;
        }

        var now = time.GetUtcNow();
        if (_unknown.TryGetValue(key, out var until) && until > now)
        {
            return null;
        }

        await using var connection = await _directory.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT home_region FROM subscriber_placements WHERE tenant_id = $1 AND username = $2", connection);
        command.Parameters.Add(new() { Value = tenantId });
        command.Parameters.Add(new() { Value = username });
        if (await command.ExecuteScalarAsync(cancellationToken) is string found)
        {
            _homes[key] = found;
            _unknown.TryRemove(key, out _);
            return found;
        }

        if (_unknown.Count > 100_000)
        {
            _unknown.Clear();
        }

        _unknown[key] = now + NegativeTtl;
        return null;
    }

    /// <summary>
    /// Writes a subscriber's placement before its row exists (so a lookup never points nowhere); returns the
    /// home region on record, which differs from <paramref name="home"/> when the username is placed elsewhere.
    /// </summary>
    public async Task<string> PlaceAsync(string tenantId, string username, string home, CancellationToken cancellationToken)
    {
        await using var connection = await _directory.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand("""
            WITH placed AS (
                INSERT INTO subscriber_placements (tenant_id, username, home_region) VALUES ($1, $2, $3)
                ON CONFLICT (tenant_id, username) DO NOTHING RETURNING home_region)
            SELECT home_region FROM placed
            UNION ALL SELECT home_region FROM subscriber_placements WHERE tenant_id = $1 AND username = $2
            LIMIT 1
            """, connection);
        command.Parameters.Add(new() { Value = tenantId });
        command.Parameters.Add(new() { Value = username });
        command.Parameters.Add(new() { Value = home });
        var placed = (string)(await command.ExecuteScalarAsync(cancellationToken))!;
        _homes[(tenantId, username)] = placed;
        _unknown.TryRemove((tenantId, username), out _);
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
