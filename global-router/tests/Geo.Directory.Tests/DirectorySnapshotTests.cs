using System.Net;
using Geo.Directory.Placement;
using Geo.Directory.Shards;

namespace Geo.Directory.Tests;

public sealed class DirectorySnapshotTests
{
    [Fact]
    public void TryGetShardOf_PlacedSubscriber_ReturnsItsShard()
    {
        var placements = new PlacementIndex();
        placements.Set("acme", "alice", "b");
        var snapshot = DirectoryFixtures.Snapshot(placements);

        Assert.True(snapshot.TryGetShardOf("acme", "alice", out var shard));
        Assert.Equal(new ShardKey("acme", "b"), shard.Key);
        Assert.False(snapshot.TryGetShardOf("acme", "nobody", out _));
    }

    [Fact]
    public void TryGetNas_ByIpv4OrMappedIpv6_FindsTheSameNas()
    {
        var snapshot = DirectoryFixtures.Snapshot();

        Assert.True(snapshot.TryGetNas(IPAddress.Parse("10.0.0.2"), out var v4));
        Assert.True(snapshot.TryGetNas(IPAddress.Parse("::ffff:10.0.0.2"), out var v6));
        Assert.Same(v4, v6);
        Assert.Equal("bng-b", v4.Id);
        Assert.False(snapshot.TryGetNas(IPAddress.Parse("10.0.0.3"), out _));
    }

    [Fact]
    public void ShardsOf_Tenant_OrderedByHomeRegion()
    {
        var snapshot = DirectoryFixtures.Snapshot();

        Assert.Equal(["a", "b"], snapshot.ShardsOf("acme").Select(s => s.Key.HomeRegion));
        Assert.Empty(snapshot.ShardsOf("nobody"));
    }

    [Theory]
    [InlineData("acme@a", true, "acme", "a")]
    [InlineData("acme@eu-west", true, "acme", "eu-west")]
    [InlineData("acme", false, null, null)]
    [InlineData("@a", false, null, null)]
    [InlineData("acme@", false, null, null)]
    [InlineData("acme@a@b", false, null, null)]
    public void TryParse_ShardKeyText_ParsesOnlyTenantAtRegion(string text, bool ok, string? tenant, string? region)
    {
        Assert.Equal(ok, ShardKey.TryParse(text, out var key));
        if (ok)
        {
            Assert.Equal(new ShardKey(tenant!, region!), key);
            Assert.Equal(text, key.ToString());
        }
    }
}

public sealed class ShardRouteTests
{
    [Fact]
    public void Resolve_ActiveShardOwnerUp_RoutableToOwner()
    {
        var route = ShardRoute.Resolve(DirectoryFixtures.Snapshot(), new ShardKey("acme", "a"), _ => true);

        Assert.Equal(RouteStatus.Routable, route.Status);
        Assert.Equal("a", route.Owner!.Id);
        Assert.Equal(1, route.Shard!.Epoch);
    }

    [Fact]
    public void Resolve_OwnerDown_OwnerDown()
    {
        var route = ShardRoute.Resolve(DirectoryFixtures.Snapshot(), new ShardKey("acme", "a"), region => region != "a");

        Assert.Equal(RouteStatus.OwnerDown, route.Status);
    }

    [Fact]
    public void Resolve_PromotedShard_RoutesToNewOwner()
    {
        var snapshot = new DirectorySnapshot(DirectoryFixtures.Data(acmeAEpoch: 2, acmeAOwner: "b"), new PlacementIndex(), 2);

        var route = ShardRoute.Resolve(snapshot, new ShardKey("acme", "a"), region => region != "a");

        Assert.Equal(RouteStatus.Routable, route.Status);
        Assert.Equal("b", route.Owner!.Id);
        Assert.Equal(2, route.Shard!.Epoch);
    }

    [Theory]
    [InlineData(ShardState.Promoting)]
    [InlineData(ShardState.Switching)]
    [InlineData(ShardState.Fenced)]
    [InlineData(ShardState.Provisioning)]
    public void Resolve_ShardChangingHands_InTransition(ShardState state)
    {
        var snapshot = new DirectorySnapshot(DirectoryFixtures.Data(acmeAState: state), new PlacementIndex(), 2);

        Assert.Equal(RouteStatus.InTransition, ShardRoute.Resolve(snapshot, new ShardKey("acme", "a"), _ => true).Status);
    }

    [Fact]
    public void Resolve_UnknownShard_UnknownShard()
    {
        Assert.Equal(RouteStatus.UnknownShard, ShardRoute.Resolve(DirectoryFixtures.Snapshot(), new ShardKey("zenith", "a"), _ => true).Status);
    }
}
