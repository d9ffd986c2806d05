using Geo.Directory.Placement;
using Geo.Directory.Stores.Postgres;

namespace Geo.Directory.Tests;

public sealed class PlacementNotificationTests
{
    [Theory]
    [InlineData("+acme/a/alice", "acme", "alice", "a")]
    [InlineData("+acme/eu-west/a/b@c", "acme", "a/b@c", "eu-west")]
    [InlineData("-acme/alice", "acme", "alice", null)]
    [InlineData("-acme/a/b", "acme", "a/b", null)]
    public void TryParsePlacement_Payload_Parsed(string payload, string tenant, string username, string? region)
    {
        Assert.True(PostgresDirectoryWatch.TryParsePlacement(payload, out var change));
        Assert.Equal(new PlacementChange(tenant, username, region), change);
    }

    [Theory]
    [InlineData("*")]
    [InlineData("+acme/a/")]
    [InlineData("+acme//alice")]
    [InlineData("-acme/")]
    [InlineData("acme/a/alice")]
    [InlineData("")]
    public void TryParsePlacement_MalformedOrReset_False(string payload)
    {
        Assert.False(PostgresDirectoryWatch.TryParsePlacement(payload, out _));
    }
}
