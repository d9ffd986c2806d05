using Geo.RegionNode.Shards;
using Geo.Testing;

namespace Geo.RegionNode.IntegrationTests;

/// <summary>RADIUS reaching a region that does not own the subscriber's shard is answered by the owner region.</summary>
[Collection(RegionFixtureGroup.Name)]
public sealed class ForwardingTests(RegionFixture stack)
{
    [Fact]
    public async Task RequestsToRegionB_ForSubscriberHomedInA_AnsweredByAAndCommittedInA()
    {
        await using var b = stack.StartNode("b");
        await b.StartAsync();
        // The directory learns where both nodes take RADIUS, and both nodes reload it.
        foreach (var (region, node) in new[] { ("a", stack.Node), ("b", b) })
        {
            await Sql.ScalarAsync<object>(stack.DirectoryConnectionString,
                "UPDATE regions SET radius_host = '127.0.0.1', radius_auth_port = $2, radius_acct_port = $3 WHERE id = $1",
                region, node.AuthEndpoint.Port, node.AcctEndpoint.Port);
        }

        foreach (var node in new[] { stack.Node, b })
        {
            await ((ShardCatalog)node.Services.GetService(typeof(ShardCatalog))!).RefreshAsync(CancellationToken.None);
        }

        var (user, password) = stack.Subscriber(21);
        var forwardedBefore = await NodeProbe.MetricAsync(b, "geo_radius_forwarded_total{outcome=\"answered\"}");

        var (_, login) = await Radclient.SendAsync(b.AuthEndpoint, "auth", stack.NasSecret,
            $"User-Name = \"{user}\"\nUser-Password = \"{password}\"\nMessage-Authenticator = 0x00\nPacket-Src-IP-Address = {RegionFixture.NasAddress}");
        var (_, wrong) = await Radclient.SendAsync(b.AuthEndpoint, "auth", stack.NasSecret,
            $"User-Name = \"{user}\"\nUser-Password = \"wrong\"\nMessage-Authenticator = 0x00\nPacket-Src-IP-Address = {RegionFixture.NasAddress}");
        var (_, chap) = await Radclient.SendAsync(b.AuthEndpoint, "auth", stack.NasSecret,
            $"User-Name = \"{user}\"\nCHAP-Password = \"{password}\"\nMessage-Authenticator = 0x00\nPacket-Src-IP-Address = {RegionFixture.NasAddress}");
        var session = $"forwarded-{Guid.NewGuid():N}";
        var (_, accounting) = await Radclient.SendAsync(b.AcctEndpoint, "acct", stack.NasSecret,
            $"User-Name = \"{user}\"\nAcct-Status-Type = Start\nAcct-Session-Id = \"{session}\"\nProxy-State = 0x6e61732d7374617465\nPacket-Src-IP-Address = {RegionFixture.NasAddress}");

        // Region a decided: its Class names shard acme@a, and the reject and the CHAP accept came from it too.
        Assert.Contains("Received Access-Accept", login, StringComparison.Ordinal);
        Assert.Contains("Class = 0x67656f3a61636d653a613a", login, StringComparison.Ordinal);
        Assert.Contains("Received Access-Reject", wrong, StringComparison.Ordinal);
        Assert.Contains("Received Access-Accept", chap, StringComparison.Ordinal);
        Assert.Contains("Received Accounting-Response", accounting, StringComparison.Ordinal);
        Assert.Contains("Proxy-State = 0x6e61732d7374617465", accounting.Split("Received")[1], StringComparison.Ordinal);
        Assert.Equal(1L, await Sql.ScalarAsync<long>(stack.ShardConnectionString, "SELECT count(*) FROM sessions WHERE acct_session_id = $1", session));
        Assert.Equal(forwardedBefore + 4, await NodeProbe.MetricAsync(b, "geo_radius_forwarded_total{outcome=\"answered\"}"));
        await b.StopAsync();
    }
}
