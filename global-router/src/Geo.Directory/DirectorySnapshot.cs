using System.Diagnostics.CodeAnalysis;
using System.Net;
using Geo.Directory.Nas;
using Geo.Directory.Placement;
using Geo.Directory.Regions;
using Geo.Directory.Shards;
using Geo.Directory.Tenants;

namespace Geo.Directory;

/// <summary>
/// One consistent view of the directory's control plane, immutable, with O(1) lookups: shard by key, the
/// shards of a tenant, region by id, NAS by address or id. Subscriber placements come from the live
/// <see cref="PlacementIndex"/> the snapshot was published with (too large to copy on every change).
/// </summary>
public sealed class DirectorySnapshot
{
    private readonly Dictionary<string, Region> _regions;
    private readonly Dictionary<string, Tenant> _tenants;
    private readonly Dictionary<ShardKey, Shard> _shards;
    private readonly Dictionary<string, Shard[]> _shardsByTenant;
    private readonly Dictionary<IPAddress, NasDevice> _nasByAddress;
    private readonly Dictionary<(string TenantId, string NasId), NasDevice> _nasById;

    /// <summary>Builds a snapshot from what a store loaded.</summary>
    public DirectorySnapshot(DirectoryData data, PlacementIndex placements, long version)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(placements);
        Data = data;
        Placements = placements;
        Version = version;
        _regions = data.Regions.ToDictionary(r => r.Id, StringComparer.Ordinal);
        _tenants = data.Tenants.ToDictionary(t => t.Id, StringComparer.Ordinal);
        _shards = data.Shards.ToDictionary(s => s.Key);
        _shardsByTenant = data.Shards.GroupBy(s => s.Key.TenantId, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.OrderBy(s => s.Key.HomeRegion, StringComparer.Ordinal).ToArray(), StringComparer.Ordinal);
        _nasByAddress = new Dictionary<IPAddress, NasDevice>();
        _nasById = new Dictionary<(string, string), NasDevice>();
        foreach (var nas in data.NasDevices)
        {
            // An IPv4 NAS may reach a dual-stack socket as ::ffff:a.b.c.d; both forms find it.
            _nasByAddress[nas.Address] = nas;
            _nasByAddress[nas.Address.IsIPv4MappedToIPv6 ? nas.Address.MapToIPv4() : nas.Address.MapToIPv6()] = nas;
            _nasById[(nas.TenantId, nas.Id)] = nas;
        }
    }

    /// <summary>An empty snapshot (before the first load).</summary>
    public static DirectorySnapshot Empty { get; } = new(DirectoryData.Empty, new PlacementIndex(), 0);

    /// <summary>Rises by one with every snapshot a cache publishes.</summary>
    public long Version { get; }

    /// <summary>What the snapshot was built from.</summary>
    public DirectoryData Data { get; }

    /// <summary>The placements (live, shared by successive snapshots until a full reload replaces them).</summary>
    public PlacementIndex Placements { get; }

    /// <summary>Every region.</summary>
    public IReadOnlyList<Region> Regions => Data.Regions;

    /// <summary>Every shard.</summary>
    public IReadOnlyList<Shard> Shards => Data.Shards;

    /// <summary>A region by id.</summary>
    public bool TryGetRegion(string regionId, [NotNullWhen(true)] out Region? region) => _regions.TryGetValue(regionId, out region);

    /// <summary>A tenant by id.</summary>
    public bool TryGetTenant(string tenantId, [NotNullWhen(true)] out Tenant? tenant) => _tenants.TryGetValue(tenantId, out tenant);

    /// <summary>The SHA-256 of a tenant's API key; false for an unknown tenant or one without an issued key.</summary>
    public bool TryGetTenantApiKeyHash(string tenantId, [NotNullWhen(true)] out byte[]? sha256) =>
        Data.TenantApiKeyHashes.TryGetValue(tenantId, out sha256);

    /// <summary>A shard by key.</summary>
    public bool TryGetShard(ShardKey key, [NotNullWhen(true)] out Shard? shard) => _shards.TryGetValue(key, out shard);

    /// <summary>The shards of a tenant, ordered by home region (empty for an unknown tenant).</summary>
    public IReadOnlyList<Shard> ShardsOf(string tenantId) => _shardsByTenant.TryGetValue(tenantId, out var shards) ? shards : [];

    /// <summary>A NAS by the source address of its packets.</summary>
    public bool TryGetNas(IPAddress address, [NotNullWhen(true)] out NasDevice? nas)
    {
        ArgumentNullException.ThrowIfNull(address);
        return _nasByAddress.TryGetValue(address, out nas);
    }

    /// <summary>A NAS by tenant and id.</summary>
    public bool TryGetNas(string tenantId, string nasId, [NotNullWhen(true)] out NasDevice? nas) => _nasById.TryGetValue((tenantId, nasId), out nas);

    /// <summary>Region health as the store reported it (Unknown when it reports none).</summary>
    public RegionHealth StoreHealthOf(string regionId) =>
        Data.RegionHealth.TryGetValue(regionId, out var health) ? health : RegionHealth.Unknown;

    /// <summary>The shard a subscriber lives in, by its placement; false when it has none here.</summary>
    public bool TryGetShardOf(string tenantId, ReadOnlySpan<char> username, [NotNullWhen(true)] out Shard? shard)
    {
        shard = null;
        return Placements.TryGetHomeRegion(tenantId, username, out var home) && _shards.TryGetValue(new ShardKey(tenantId, home), out shard);
    }

    /// <summary>The shard a subscriber lives in, with the username in UTF-8 (RADIUS User-Name).</summary>
    public bool TryGetShardOfUtf8(string tenantId, ReadOnlySpan<byte> username, [NotNullWhen(true)] out Shard? shard)
    {
        shard = null;
        return Placements.TryGetHomeRegionUtf8(tenantId, username, out var home) && _shards.TryGetValue(new ShardKey(tenantId, home), out shard);
    }
}
