using Geo.Directory.Nas;
using Geo.Directory.Regions;
using Geo.Directory.Shards;
using Geo.Directory.Tenants;

namespace Geo.Directory;

/// <summary>
/// The control-plane part of the directory as a store loads it: small (regions, tenants, shards, NAS), so it
/// is reloaded whole on every change. Placements are large and are loaded and watched separately.
/// </summary>
public sealed record DirectoryData
{
    /// <summary>Every region.</summary>
    public required IReadOnlyList<Region> Regions { get; init; }

    /// <summary>Every tenant.</summary>
    public required IReadOnlyList<Tenant> Tenants { get; init; }

    /// <summary>Every shard.</summary>
    public required IReadOnlyList<Shard> Shards { get; init; }

    /// <summary>Every NAS device.</summary>
    public required IReadOnlyList<NasDevice> NasDevices { get; init; }

    /// <summary>
    /// The SHA-256 of each tenant's API key, by tenant id (tenants without an issued key are missing). The keys
    /// themselves are never stored; the router checks a presented key against these before touching anything else.
    /// </summary>
    public IReadOnlyDictionary<string, byte[]> TenantApiKeyHashes { get; init; } = new Dictionary<string, byte[]>(StringComparer.Ordinal);

    /// <summary>
    /// Region health as the store knows it (Consul: its health checks). Regions missing here are
    /// <see cref="RegionHealth.Unknown"/>; the PostgreSQL store knows none, the router checks for itself.
    /// </summary>
    public IReadOnlyDictionary<string, RegionHealth> RegionHealth { get; init; } = new Dictionary<string, RegionHealth>(StringComparer.Ordinal);

    /// <summary>An empty directory.</summary>
    public static DirectoryData Empty { get; } = new() { Regions = [], Tenants = [], Shards = [], NasDevices = [] };
}
