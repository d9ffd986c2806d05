using System.Net;
using System.Text;
using Geo.Radius;
using Geo.Radius.Dictionary;
using Geo.Testing;

namespace Geo.RegionNode.IntegrationTests;

/// <summary>The region node against the real RADIUS client (radclient), real PostgreSQL and real Redis.</summary>
[Collection(RegionFixtureGroup.Name)]
public sealed class RadclientTests(RegionFixture stack)
{
    [Fact]
    public async Task AccessRequest_PapRightPassword_AcceptWithPlanAttributes()
    {
        var (user, password) = stack.Subscriber(1);

        var (_, output) = await Auth($"User-Name = \"{user}\"\nUser-Password = \"{password}\"");

        Assert.Contains("Received Access-Accept", output, StringComparison.Ordinal);
        Assert.Contains("Mikrotik-Rate-Limit = \"10000k/50000k\"", output, StringComparison.Ordinal);
        Assert.Contains("Session-Timeout = 86400", output, StringComparison.Ordinal);
        Assert.Contains("Acct-Interim-Interval = 300", output, StringComparison.Ordinal);
        Assert.Contains("Message-Authenticator = 0x", output.Split("Received")[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task AccessRequest_PapWrongPassword_Reject()
    {
        var (user, _) = stack.Subscriber(4);

        var (_, output) = await Auth($"User-Name = \"{user}\"\nUser-Password = \"not-the-password\"");

        Assert.Contains("Received Access-Reject", output, StringComparison.Ordinal);
        Assert.Contains("Reply-Message = \"Authentication failed\"", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AccessRequest_ChapRightPassword_Accept()
    {
        var (user, password) = stack.Subscriber(5);

        var (_, output) = await Auth($"User-Name = \"{user}\"\nCHAP-Password = \"{password}\"");

        Assert.Contains("CHAP-Password = 0x", output, StringComparison.Ordinal);
        Assert.Contains("Received Access-Accept", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AccessRequest_ChapWrongPassword_Reject()
    {
        var (user, _) = stack.Subscriber(6);

        var (_, output) = await Auth($"User-Name = \"{user}\"\nCHAP-Password = \"wrong\"");

        Assert.Contains("Received Access-Reject", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AccessRequest_SuspendedAccount_RejectSayingSo()
    {
        var (user, password) = stack.Subscriber(99);

        var (_, output) = await Auth($"User-Name = \"{user}\"\nUser-Password = \"{password}\"");

        Assert.Contains("Received Access-Reject", output, StringComparison.Ordinal);
        Assert.Contains("Reply-Message = \"Account suspended\"", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AccessRequest_UnknownUser_Reject()
    {
        var (_, output) = await Auth("User-Name = \"nobody-here\"\nUser-Password = \"x\"");

        Assert.Contains("Received Access-Reject", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AccessRequest_OverSimultaneousUse_RejectUntilTheSessionStops()
    {
        // Subscriber 2 is on home-50: one session at a time.
        var (user, password) = stack.Subscriber(2);
        var login = $"User-Name = \"{user}\"\nUser-Password = \"{password}\"";
        Assert.Contains("Received Access-Accept", (await Auth(login)).Output, StringComparison.Ordinal);
        Assert.Contains("Received Accounting-Response", (await Acct($"User-Name = \"{user}\"\nAcct-Status-Type = Start\nAcct-Session-Id = \"simu-1\"")).Output, StringComparison.Ordinal);

        var second = await Auth(login);

        Assert.Contains("Received Access-Reject", second.Output, StringComparison.Ordinal);
        Assert.Contains("Simultaneous-Use limit reached", second.Output, StringComparison.Ordinal);
        Assert.Contains("Received Accounting-Response", (await Acct($"User-Name = \"{user}\"\nAcct-Status-Type = Stop\nAcct-Session-Id = \"simu-1\"\nAcct-Session-Time = 30")).Output, StringComparison.Ordinal);
        Assert.Contains("Received Access-Accept", (await Auth(login)).Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Accounting_StartInterimStop_CommittedWithCountersAndCdrs()
    {
        var (user, _) = stack.Subscriber(3);
        const string Session = "acct-lifecycle-1";
        foreach (var step in new[]
        {
            "Acct-Status-Type = Start",
            "Acct-Status-Type = Interim-Update\nAcct-Input-Octets = 1000\nAcct-Output-Octets = 20000\nAcct-Session-Time = 300",
            "Acct-Status-Type = Stop\nAcct-Input-Octets = 3000\nAcct-Output-Octets = 5\nAcct-Output-Gigawords = 1\nAcct-Session-Time = 600\nAcct-Terminate-Cause = User-Request",
        })
        {
            var (_, output) = await Acct($"User-Name = \"{user}\"\nAcct-Session-Id = \"{Session}\"\n{step}");
            Assert.Contains("Received Accounting-Response", output, StringComparison.Ordinal);
        }

        Assert.Equal("closed 3000 4294967301 600 UserRequest", await NodeProbe.ScalarAsync<string>(stack.ShardConnectionString,
            "SELECT state || ' ' || input_octets || ' ' || output_octets || ' ' || session_time_s || ' ' || terminate_cause FROM sessions WHERE acct_session_id = $1", Session));
        Assert.Equal(3L, await NodeProbe.ScalarAsync<long>(stack.ShardConnectionString,
            "SELECT count(*) FROM cdrs c JOIN sessions s ON s.id = c.session_id WHERE s.acct_session_id = $1", Session));
        Assert.Equal(4294967301L, await NodeProbe.ScalarAsync<long>(stack.ShardConnectionString,
            "SELECT sum(c.delta_output_octets)::bigint FROM cdrs c JOIN sessions s ON s.id = c.session_id WHERE s.acct_session_id = $1", Session));
    }

    [Fact]
    public async Task AccessRequest_SubscriberWithFixedAddress_FramedIpInAccept()
    {
        var (user, password) = stack.Subscriber(12);
        await NodeProbe.ScalarAsync<object>(stack.ShardConnectionString, "UPDATE subscribers SET framed_ip = '100.64.7.9' WHERE username = $1", user);
        await NodeProbe.InvalidateProfileAsync(stack.Node, "geo_acme_a", user);

        var (_, output) = await Auth($"User-Name = \"{user}\"\nUser-Password = \"{password}\"");

        Assert.Contains("Framed-IP-Address = 100.64.7.9", output, StringComparison.Ordinal);
    }

    /// <summary>
    /// The NAS's sessions in the shard owned here are closed at once. Its tenant's other shard, acme@b, is owned by region
    /// b, whose node this fixture does not run (and which this node holds no replica of): the restart cannot reach it,
    /// so it is not acknowledged and the NAS sends it again, rather than leave acme@b's sessions open for good.
    /// </summary>
    [Fact]
    public async Task AccountingOn_NasRestarted_ClosesItsOpenSessionsHere_UnansweredWhileAnotherOwnerCannotBeTold()
    {
        const string Series = "geo_accounting_unanswered_total{reason=\"owner_unreachable\"}";
        var (user, _) = stack.Subscriber(13);
        var session = $"before-reboot-{Guid.NewGuid():N}";
        Assert.Contains("Received Accounting-Response", (await Acct($"User-Name = \"{user}\"\nAcct-Status-Type = Start\nAcct-Session-Id = \"{session}\"")).Output, StringComparison.Ordinal);
        var before = await NodeProbe.MetricAsync(stack.Node, Series);

        var (_, output) = await Acct("Acct-Status-Type = Accounting-On\nAcct-Session-Id = \"0\"");

        Assert.DoesNotContain("Received Accounting-Response", output, StringComparison.Ordinal);
        // Counted once the forwards to b (two tries of ForwardTimeout) are given up, which may be after radclient gave up.
        await Eventually.TrueAsync(async () => await NodeProbe.MetricAsync(stack.Node, Series) >= before + 1, TimeSpan.FromSeconds(10), "the restart is counted unanswered");
        Assert.Equal("closed", await NodeProbe.ScalarAsync<string>(stack.ShardConnectionString, "SELECT state FROM sessions WHERE acct_session_id = $1", session));
        Assert.Equal(0L, await NodeProbe.ScalarAsync<long>(stack.ShardConnectionString, "SELECT count(*) FROM sessions WHERE nas_id = 'acme-bng-a' AND state = 'open'"));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task StatusServer_EitherPort_Answered(bool authPort)
    {
        var (_, output) = await Radclient.SendAsync(authPort ? stack.Auth : stack.Acct, "status", stack.NasSecret,
            $"Message-Authenticator = 0x00\nPacket-Src-IP-Address = {RegionFixture.NasAddress}");

        Assert.Contains(authPort ? "Received Access-Accept" : "Received Accounting-Response", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AccessRequest_WrongSecret_IgnoredAndCounted()
    {
        const string Series = "geo_radius_dropped_total{port=\"auth\",reason=\"bad_message_authenticator\"}";
        var before = await NodeProbe.MetricAsync(stack.Node, Series);
        var (user, password) = stack.Subscriber(7);

        var (exitCode, output) = await Radclient.SendAsync(stack.Auth, "auth", "wrong-secret",
            $"User-Name = \"{user}\"\nUser-Password = \"{password}\"\nMessage-Authenticator = 0x00\nPacket-Src-IP-Address = {RegionFixture.NasAddress}", timeoutSeconds: 1);

        Assert.NotEqual(0, exitCode);
        Assert.DoesNotContain("Received", output, StringComparison.Ordinal);
        Assert.True(await NodeProbe.MetricAsync(stack.Node, Series) >= before + 1);
    }

    [Fact]
    public async Task Request_UnknownNas_IgnoredAndCounted()
    {
        const string Series = "geo_radius_dropped_total{port=\"auth\",reason=\"unknown_nas\"}";
        var before = await NodeProbe.MetricAsync(stack.Node, Series);

        var (exitCode, output) = await Radclient.SendAsync(stack.Auth, "auth", stack.NasSecret,
            "User-Name = \"x\"\nUser-Password = \"y\"\nMessage-Authenticator = 0x00\nPacket-Src-IP-Address = 127.0.99.7", timeoutSeconds: 1);

        Assert.NotEqual(0, exitCode);
        Assert.DoesNotContain("Received", output, StringComparison.Ordinal);
        Assert.True(await NodeProbe.MetricAsync(stack.Node, Series) >= before + 1);
    }

    [Fact]
    public async Task AccessRequest_WithoutMessageAuthenticator_DroppedByDefaultAndCounted()
    {
        const string Series = "geo_radius_dropped_total{port=\"auth\",reason=\"missing_message_authenticator\"}";
        var before = await NodeProbe.MetricAsync(stack.Node, Series);
        var (user, password) = stack.Subscriber(8);
        var secret = Encoding.UTF8.GetBytes(stack.NasSecret);
        var packet = new byte[4096];
        var writer = new RadiusPacketWriter(packet, RadiusCode.AccessRequest, 7, Guid.NewGuid().ToByteArray());
        writer.AddString(RadiusAttributeType.UserName, user);
        writer.AddUserPassword(Encoding.UTF8.GetBytes(password), secret);
        var length = writer.FinishRequest(secret);

        using var nas = new NodeProbe.Peer(IPAddress.Parse(RegionFixture.NasAddress));
        var answer = await nas.ExchangeAsync(packet[..length], stack.Auth, TimeSpan.FromSeconds(1));

        Assert.Null(answer);
        Assert.Equal(before + 1, await NodeProbe.MetricAsync(stack.Node, Series));
    }

    [Fact]
    public async Task AccountingRequest_Retransmitted_AnsweredFromCacheAndCommittedOnce()
    {
        var (user, _) = stack.Subscriber(9);
        var session = $"retransmit-{Guid.NewGuid():N}";
        var secret = Encoding.UTF8.GetBytes(stack.NasSecret);
        var packet = new byte[4096];
        var writer = new RadiusPacketWriter(packet, RadiusCode.AccountingRequest, 42);
        writer.AddString(RadiusAttributeType.UserName, user);
        writer.AddUInt32(RadiusAttributeType.AcctStatusType, (uint)AcctStatusType.Start);
        writer.AddString(RadiusAttributeType.AcctSessionId, session);
        var datagram = packet[..writer.FinishRequest(secret)];
        const string Series = "geo_radius_duplicates_total{outcome=\"answered_from_cache\"}";
        var before = await NodeProbe.MetricAsync(stack.Node, Series);
        using var nas = new NodeProbe.Peer(IPAddress.Parse(RegionFixture.NasAddress));

        // The same datagram from the same source port (same identifier and authenticator), after the first answer.
        var first = await nas.ExchangeAsync(datagram, stack.Acct, TimeSpan.FromSeconds(5));
        var second = await nas.ExchangeAsync(datagram, stack.Acct, TimeSpan.FromSeconds(5));

        Assert.NotNull(first);
        Assert.Equal(first, second);
        Assert.Equal(before + 1, await NodeProbe.MetricAsync(stack.Node, Series));
        Assert.Equal(1L, await NodeProbe.ScalarAsync<long>(stack.ShardConnectionString,
            "SELECT count(*) FROM cdrs c JOIN sessions s ON s.id = c.session_id WHERE s.acct_session_id = $1", session));
    }

    private Task<(int ExitCode, string Output)> Auth(string attributes) =>
        Radclient.SendAsync(stack.Auth, "auth", stack.NasSecret, $"{attributes}\nMessage-Authenticator = 0x00\nPacket-Src-IP-Address = {RegionFixture.NasAddress}");

    private Task<(int ExitCode, string Output)> Acct(string attributes) =>
        Radclient.SendAsync(stack.Acct, "acct", stack.NasSecret, $"{attributes}\nPacket-Src-IP-Address = {RegionFixture.NasAddress}");
}
