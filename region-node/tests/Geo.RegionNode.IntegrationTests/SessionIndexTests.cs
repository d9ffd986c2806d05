using System.Net;
using Geo.Testing;

namespace Geo.RegionNode.IntegrationTests;

/// <summary>
/// Several region nodes of one region share its Redis: each keeps the region's active sessions in memory from the
/// changes the others publish, so Simultaneous-Use holds whichever node the NAS reaches.
/// </summary>
[Collection(RegionFixtureGroup.Name)]
public sealed class SessionIndexTests(RegionFixture stack)
{
    private const string SessionEntries = "geo_session_index_entries";

    [Fact]
    public async Task SimultaneousUse_SessionStartedThroughOneNode_CountedByAnotherNodeOfTheRegion()
    {
        // Subscriber 32 is on home-50: one session at a time.
        var (user, password) = stack.Subscriber(32);
        var login = $"User-Name = \"{user}\"\nUser-Password = \"{password}\"";
        await using var second = stack.StartNode();
        await second.StartAsync();
        await NodeProbe.WaitUntilAsync(async () => (await NodeProbe.ReadyAsync(second)).Contains("\"redis\":\"ok\"", StringComparison.Ordinal), "the second node's session index is loaded");
        Assert.Contains("Received Access-Accept", (await Auth(second.AuthEndpoint, login)).Output, StringComparison.Ordinal);
        var indexed = await NodeProbe.MetricAsync(second, SessionEntries);

        Assert.Contains("Received Accounting-Response", (await Acct(stack.Acct, $"User-Name = \"{user}\"\nAcct-Status-Type = Start\nAcct-Session-Id = \"two-nodes-1\"")).Output, StringComparison.Ordinal);
        await NodeProbe.WaitUntilAsync(async () => await NodeProbe.MetricAsync(second, SessionEntries) > indexed, "the second node hears of the session");

        var rejected = await Auth(second.AuthEndpoint, login);
        Assert.Contains("Simultaneous-Use limit reached", rejected.Output, StringComparison.Ordinal);

        // Stopped through the second node: the first one hears of it and admits the subscriber again.
        var indexedFirst = await NodeProbe.MetricAsync(stack.Node, SessionEntries);
        Assert.Contains("Received Accounting-Response", (await Acct(second.AcctEndpoint, $"User-Name = \"{user}\"\nAcct-Status-Type = Stop\nAcct-Session-Id = \"two-nodes-1\"\nAcct-Session-Time = 5")).Output, StringComparison.Ordinal);
        await NodeProbe.WaitUntilAsync(async () => await NodeProbe.MetricAsync(stack.Node, SessionEntries) < indexedFirst, "the first node hears of the stop");
        Assert.Contains("Received Access-Accept", (await Auth(stack.Auth, login)).Output, StringComparison.Ordinal);
        await second.StopAsync();
    }

    private Task<(int ExitCode, string Output)> Auth(IPEndPoint node, string attributes) =>
        Radclient.SendAsync(node, "auth", stack.NasSecret, $"{attributes}\nMessage-Authenticator = 0x00\nPacket-Src-IP-Address = {RegionFixture.NasAddress}");

    private Task<(int ExitCode, string Output)> Acct(IPEndPoint node, string attributes) =>
        Radclient.SendAsync(node, "acct", stack.NasSecret, $"{attributes}\nPacket-Src-IP-Address = {RegionFixture.NasAddress}");
}
