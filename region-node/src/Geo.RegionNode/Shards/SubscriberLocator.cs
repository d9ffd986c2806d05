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

    public ValueTask DisposeAsync() => _directory.DisposeAsync();
}
