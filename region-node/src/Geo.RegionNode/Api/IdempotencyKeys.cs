using Geo.RegionNode.Shards;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Geo.RegionNode.Api;

/// <summary>
/// The tenant-wide registry of top-up and adjustment idempotency keys, in the directory (<c>idempotency_keys</c>). A shard's
/// ledger alone knows only its own keys, and a tenant has a shard per home region, owned by different regions: the
/// same key sent for subscribers of two shards would be applied twice. The directory is the one database every region
/// writes to (placements live there too), so a key is claimed there, bound to its request, before any shard applies it.
/// </summary>
internal sealed class IdempotencyKeys(IOptions<RegionNodeOptions> options) : IAsyncDisposable
{
    private readonly NpgsqlDataSource _directory = NpgsqlDataSource.Create(options.Value.DirectoryConnectionString);

    /// <summary>
    /// Claims <paramref name="key"/> for the request <paramref name="requestHash"/> of <paramref name="tenantId"/>; true when the
    /// key is (now or already) this request's, false when an earlier, different request holds it. A claim is never released:
    /// once past validation a key belongs to its request, whether the shard then applies it or refuses it.
    /// </summary>
    public async Task<bool> ClaimAsync(string tenantId, string key, byte[] requestHash, string homeRegion, CancellationToken cancellationToken) =>
        ((byte[])await DirectoryWrites.InsertOrReadAsync(_directory, "idempotency_keys", ["tenant_id", "key", "request_hash", "home_region"], 2,
            "request_hash", [tenantId, key, requestHash, homeRegion], cancellationToken)).AsSpan().SequenceEqual(requestHash);

    public ValueTask DisposeAsync() => _directory.DisposeAsync();
}
