using Geo.Directory.Shards;
using Geo.Replication.Discovery;
using Geo.Schema;
using Npgsql;

namespace Geo.Replication.Tests;

public sealed class DiscoveryPlanTests
{
    private static readonly PlatformDatabases Servers = new("Host=dir;Database=geo_directory", new Dictionary<string, string>
    {
        ["a"] = "Host=pg-a;Port=5433;Username=geo;Password=pw-a",
        ["b"] = "Host=pg-b;Port=5434;Username=geo;Password=pw-b",
    });

    [Fact]
    public void StandbyShards_DirectoryShards_OnlyThoseThisRegionStandsByForWithTheirState()
    {
        Shard[] shards =
        [
            new(new ShardKey("acme", "a"), "a", "b", 3, Directory.Shards.ShardState.Promoting, null, "geo_acme_a"),
            new(new ShardKey("acme", "b"), "b", "a", 1, Directory.Shards.ShardState.Active, null, "geo_acme_b"),
            new(new ShardKey("solo", "a"), "a", null, 1, Directory.Shards.ShardState.Active, null, "geo_solo_a"),
        ];

        var standby = DiscoveryPlan.StandbyShards(shards, "b");

        Assert.Equal([new StandbyShard("acme", "a", "a", "geo_acme_a", "promoting")], standby);
        Assert.False(standby[0].IsReplicated);
    }

    [Theory]
    [InlineData("provisioning", true)]
    [InlineData("active", true)]
    [InlineData("promoting", false)]
    [InlineData("switching", true)]
    [InlineData("fenced", false)]
    [InlineData("retiring", false)]
    public void Desired_ShardState_ProvisioningActiveAndSwitchingReplicated(string state, bool replicated)
    {
        var desired = DiscoveryPlan.Desired([new StandbyShard("acme", "a", "a", "geo_acme_a", state)], "b", Servers);

        Assert.Equal(replicated ? 1 : 0, desired.Count);
    }

    [Fact]
    public void Desired_OwnerWithServer_StreamsFromOwnerToOwnRegionSameDatabase()
    {
        var shard = Assert.Single(DiscoveryPlan.Desired([new StandbyShard("acme", "a", "a", "geo_acme_a", "active")], "b", Servers));

        Assert.Equal("acme@a", shard.Name);
        Assert.Null(shard.Error);
        var options = shard.Options!;
        Assert.Equal("acme@a", options.Name);
        Assert.True(options.ApplyTenantMigrations);
        Assert.True(options.PrepareReplica);
        Assert.Null(options.SlotName);
        var source = new NpgsqlConnectionStringBuilder(options.SourceConnectionString);
        var replica = new NpgsqlConnectionStringBuilder(options.ReplicaConnectionString);
        Assert.Equal(("pg-a", 5433, "geo_acme_a"), (source.Host, source.Port, source.Database));
        Assert.Equal(("pg-b", 5434, "geo_acme_a"), (replica.Host, replica.Port, replica.Database));
    }

    [Fact]
    public void Desired_OwnerWithoutServer_ErrorNamesRegion()
    {
        var shard = Assert.Single(DiscoveryPlan.Desired([new StandbyShard("acme", "a", "c", "geo_acme_a", "active")], "b", Servers));

        Assert.Null(shard.Options);
        Assert.StartsWith("no PostgreSQL server configured for region c", shard.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void SameStream_OwnerMoved_IsNotSame()
    {
        var before = Assert.Single(DiscoveryPlan.Desired([new StandbyShard("acme", "a", "a", "geo_acme_a", "provisioning")], "b", Servers));
        var activated = Assert.Single(DiscoveryPlan.Desired([new StandbyShard("acme", "a", "a", "geo_acme_a", "active")], "b", Servers));
        var moved = Assert.Single(DiscoveryPlan.Desired([new StandbyShard("acme", "a", "c", "geo_acme_a", "active")], "b", Servers));

        Assert.True(before.SameStream(activated));
        Assert.False(before.SameStream(moved));
    }
}
