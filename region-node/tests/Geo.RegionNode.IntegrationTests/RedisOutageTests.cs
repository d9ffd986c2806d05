using Geo.Engines.Redis;
using Geo.Testing;

namespace Geo.RegionNode.IntegrationTests;

/// <summary>Redis is a cache: without it the region answers from PostgreSQL, and picks it up again when it returns.</summary>
[Collection(RegionFixtureGroup.Name)]
public sealed class RedisOutageTests(RegionFixture stack)
{
    [Fact]
    public async Task Authentication_RedisStoppedMidTest_StillAcceptsFromPostgresAndRecovers()
    {
        var (user, password) = stack.Subscriber(11);
        var login = $"User-Name = \"{user}\"\nUser-Password = \"{password}\"\nMessage-Authenticator = 0x00\nPacket-Src-IP-Address = {RegionFixture.NasAddress}";
        Assert.Contains("Received Access-Accept", (await Radclient.SendAsync(stack.Auth, "auth", stack.NasSecret, login)).Output, StringComparison.Ordinal);
        const string FromDatabase = "geo_profile_lookups_total{source=\"database\"}";
        var redis = stack.Redis;
        await redis.StopAsync();
        try
        {
            // The node's own copy of the profile would answer without Redis; drop it so the lookup has to go further.
            await NodeProbe.InvalidateProfileAsync(stack.Node, "geo_acme_a", user);
            var before = await NodeProbe.MetricAsync(stack.Node, FromDatabase);

            var (_, output) = await Radclient.SendAsync(stack.Auth, "auth", stack.NasSecret, login);

            Assert.Contains("Received Access-Accept", output, StringComparison.Ordinal);
            Assert.True(await NodeProbe.MetricAsync(stack.Node, FromDatabase) > before, "the profile came from PostgreSQL");
            Assert.Equal(0, await NodeProbe.MetricAsync(stack.Node, "geo_redis_connected"));
        }
        finally
        {
            await RedisServer.StartAsync(new RedisServerOptions { Directory = redis.Directory });
        }

        // Back: the node reconnects, rebuilds its session index, and serves from the cache again.
        await NodeProbe.WaitUntilAsync(async () => await NodeProbe.MetricAsync(stack.Node, "geo_redis_connected") == 1, "the node is connected to Redis again");
        Assert.Contains("Received Access-Accept", (await Radclient.SendAsync(stack.Auth, "auth", stack.NasSecret, login)).Output, StringComparison.Ordinal);
    }
}
