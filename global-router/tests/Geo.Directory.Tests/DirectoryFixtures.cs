using System.Net;
using Geo.Directory.Nas;
using Geo.Directory.Placement;
using Geo.Directory.Regions;
using Geo.Directory.Shards;
using Geo.Directory.Tenants;

namespace Geo.Directory.Tests;

/// <summary>A small directory: regions a and b, tenant acme homed in both, zenith only in b, one NAS per region.</summary>
internal static class DirectoryFixtures
{
    public static Region RegionA { get; } = new("a", "Region a", new Uri("http://127.0.0.1:1001"), "127.0.0.1", 1812, 1813);

    public static Region RegionB { get; } = new("b", "Region b", new Uri("http://127.0.0.1:1002"), "127.0.0.2", 1812, 1813);

    public static DirectoryData Data(long acmeAEpoch = 1, string acmeAOwner = "a", ShardState acmeAState = ShardState.Active) => new()
    {
        Regions = [RegionA, RegionB],
        Tenants = [new Tenant("acme", "Acme"), new Tenant("zenith", "Zenith")],
        Shards =
        [
            new Shard(new ShardKey("acme", "a"), acmeAOwner, acmeAOwner == "a" ? "b" : null, acmeAEpoch, acmeAState, null, "geo_acme_a"),
            new Shard(new ShardKey("acme", "b"), "b", "a", 1, ShardState.Active, null, "geo_acme_b"),
            new Shard(new ShardKey("zenith", "b"), "b", "a", 1, ShardState.Active, null, "geo_zenith_b"),
        ],
        NasDevices =
        [
            new NasDevice("acme", "bng-a", IPAddress.Parse("10.0.0.1"), "a", "b"),
            new NasDevice("acme", "bng-b", IPAddress.Parse("10.0.0.2"), "b", "a"),
        ],
    };

    /// <summary>Writes <see cref="Data"/> into <paramref name="store"/> through its own operations.</summary>
    public static async Task SeedAsync(IDirectoryStore store)
    {
        var data = Data();
        foreach (var region in data.Regions)
        {
            await store.UpsertRegionAsync(region, default);
        }

        foreach (var tenant in data.Tenants)
        {
            await store.UpsertTenantAsync(tenant, default);
        }

        foreach (var shard in data.Shards)
        {
            await store.CreateShardAsync(shard, default);
        }

        foreach (var nas in data.NasDevices)
        {
            await store.UpsertNasAsync(nas, default);
        }
    }

    public static DirectorySnapshot Snapshot(PlacementIndex? placements = null) => new(Data(), placements ?? new PlacementIndex(), 1);
}
