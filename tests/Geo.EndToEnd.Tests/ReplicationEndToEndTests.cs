using System.Net;
using System.Net.Http.Json;
using Geo.Testing;

namespace Geo.EndToEnd.Tests;

/// <summary>The local stack's replicators keep each region's replicas of the other region's shards current.</summary>
public sealed class ReplicationEndToEndTests(TwoRegions stack) : IClassFixture<TwoRegions>
{
    [Theory]
    [InlineData("a", "b")]
    [InlineData("b", "a")]
    public async Task SubscriberCreatedThroughTheRouter_ArrivesInTheStandbyRegionsReplica(string home, string standby)
    {
        using var api = stack.Api("acme");
        var username = $"repl-{home}-{Guid.NewGuid():N}"[..20];
        using (var created = await api.PostAsJsonAsync("/tenants/acme/subscribers", new { username, password = "pw-123456", planId = "home-50", region = home }))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        var replica = stack.ShardConnectionString("acme", home, cluster: standby);
        Assert.Equal(1L, await Eventually.ValueAsync(() => Sql.ScalarAsync<long>(replica, "SELECT count(*) FROM subscribers WHERE username = $1", username),
            count => count > 0, TimeSpan.FromSeconds(30), $"the replica in {standby} has {username}"));
        Assert.Equal(1L, await Sql.ScalarAsync<long>(replica,
            "SELECT count(*) FROM balances b JOIN subscribers s ON s.id = b.subscriber_id WHERE s.username = $1", username));
    }
}
