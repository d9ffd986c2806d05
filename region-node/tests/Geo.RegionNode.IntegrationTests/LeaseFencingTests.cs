using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Geo.Directory.Stores.Postgres;
using Geo.Testing;
using Npgsql;
using Xunit.Abstractions;

namespace Geo.RegionNode.IntegrationTests;

/// <summary>
/// Owner leases and fencing with real partitions: a region node reaches the directory only through a TCP relay the
/// test owns, so the test can cut that node off while the NAS (and everything else) still reaches it.
/// </summary>
[Collection(RegionFixtureGroup.Name)]
public sealed class LeaseFencingTests(RegionFixture stack, ITestOutputHelper log)
{
    private static readonly TimeSpan LeaseTtl = TimeSpan.FromSeconds(3);

    [Fact]
    public async Task CutOffFromTheDirectory_StandbyCannotBeAsked_FencesWithinTheLeaseAndCommitsNothingAfterIt()
    {
        await using var relay = TcpRelay.Start(DirectoryEndpoint());
        await using var node = stack.StartNode(LeaseSettings(relay));
        await node.StartAsync();
        var (user, password) = stack.Subscriber(5);
        await Eventually.TrueAsync(async () => await AuthAsync(node, user, password) == "accept", TimeSpan.FromSeconds(30), "the node serves acme@a");

        // Accounting keeps coming from the NAS while the node is cut off from the directory (not from the NAS).
        var sessions = $"fence-{Guid.NewGuid():N}";
        using var stopLoad = new CancellationTokenSource();
        // Another subscriber than the one logging in: the load's sessions would otherwise hit its Simultaneous-Use limit.
        var load = SendAccountingAsync(node.AcctEndpoint, stack.Subscriber(7).Username, sessions, stopLoad.Token);
        await Eventually.TrueAsync(async () => await CountAsync(sessions) > 20, TimeSpan.FromSeconds(30), "accounting is committed");

        var cutAt = await DatabaseNowAsync();
        var clock = Stopwatch.StartNew();
        relay.Cut();
        var lastAccept = await LastAcceptAsync(node, user, password, clock, "the cut-off node stops answering");
        log.WriteLine($"cut off from the directory: last Access-Accept {lastAccept.TotalSeconds:F2} s after the cut (lease {LeaseTtl.TotalSeconds:F0} s)");
        Assert.True(lastAccept <= LeaseTtl, $"still answering {lastAccept.TotalSeconds:F2} s after the cut, with a lease of {LeaseTtl.TotalSeconds:F0} s");

        // Nothing of the shard is committed by this node after its lease ran out: no request received after it is in the
        // database, and nothing more arrives there while the NAS keeps sending.
        var committed = await CountAsync(sessions);
        await Task.Delay(LeaseTtl);
        await stopLoad.CancelAsync();
        await load;
        Assert.Equal(committed, await CountAsync(sessions));
        var last = await Sql.ScalarAsync<DateTime>(stack.ShardConnectionString, "SELECT max(started_at) FROM sessions WHERE acct_session_id LIKE $1", sessions + "%");
        var leaseEnd = cutAt + LeaseTtl;
        log.WriteLine($"last session committed by the cut-off node was received {(last - cutAt).TotalSeconds:F2} s after the cut; none after it fenced");
        Assert.True(last <= leaseEnd, $"a session received at {last:HH:mm:ss.fff}, after the lease taken before {cutAt:HH:mm:ss.fff} ran out, was committed");

        // Reconnected, it takes its lease again and serves.
        relay.Restore();
        await Eventually.TrueAsync(async () => await AuthAsync(node, user, password) == "accept", TimeSpan.FromSeconds(30), "the node serves again once it holds the lease");
        await node.StopAsync();
    }

    [Fact]
    public async Task DirectoryDownForBothRegions_OwnerKeepsServing_ThenFencesWhenTheStandbyReachesItAgain()
    {
        await using var relayA = TcpRelay.Start(DirectoryEndpoint());
        await using var relayB = TcpRelay.Start(DirectoryEndpoint());
        await using var a = stack.StartNode(LeaseSettings(relayA));
        await using var b = stack.StartNode("b", LeaseSettings(relayB));
        await a.StartAsync();
        await b.StartAsync();
        await using var directory = new PostgresDirectoryStore(stack.DirectoryConnectionString);
        var regionB = (await directory.LoadAsync(default)).Regions.Single(r => r.Id == "b");
        // The standby region b is asked at its API URL: this test's node b.
        await directory.UpsertRegionAsync(regionB with { ApiUrl = b.HttpAddress }, default);
        try
        {
            var (user, password) = stack.Subscriber(6);
            await Eventually.TrueAsync(async () => await AuthAsync(a, user, password) == "accept", TimeSpan.FromSeconds(30), "the node serves acme@a");
            await Eventually.TrueAsync(async () => await FailsafeAnswerAsync(b) == true, TimeSpan.FromSeconds(30), "node b reaches the directory");

            // The directory is gone for both: nobody can promote, so a keeps serving past its lease.
            relayB.Cut();
            await Eventually.TrueAsync(async () => await FailsafeAnswerAsync(b) == false, TimeSpan.FromSeconds(10), "node b says it cannot reach the directory");
            relayA.Cut();
            // Every answer is an accept; one may be silence when a could not hear b's "cut off too" in time (under load a
            // 0.5 s question times out): silence is what a must do when it cannot be sure. Past twice its lease it serves.
            var clock = Stopwatch.StartNew();
            var answers = new List<string>();
            while (clock.Elapsed < LeaseTtl * 2)
            {
                answers.Add(await AuthAsync(a, user, password));
                await Task.Delay(TimeSpan.FromMilliseconds(200));
            }

            await Eventually.TrueAsync(async () => await AuthAsync(a, user, password) == "accept", TimeSpan.FromSeconds(5), "a serves past twice its lease");
            log.WriteLine($"directory down for both regions: a answered for {clock.Elapsed.TotalSeconds:F1} s, twice its lease: " +
                $"{answers.Count(x => x == "accept")} accepts, {answers.Count(x => x == "silent")} silent of {answers.Count}");
            Assert.All(answers, answer => Assert.NotEqual("reject", answer));
            Assert.True(answers.Count(x => x == "accept") * 4 >= answers.Count * 3, $"a answered {string.Join(",", answers)} while the directory was down for both");

            // b reaches the directory again (a still does not): b could promote now, so a fences.
            relayB.Restore();
            clock.Restart();
            var lastAccept = await LastAcceptAsync(a, user, password, clock, "a fences once its standby reaches the directory");
            log.WriteLine($"standby reconnected: a's last Access-Accept {lastAccept.TotalSeconds:F2} s after it");
            Assert.True(lastAccept <= LeaseTtl, $"a kept answering {lastAccept.TotalSeconds:F2} s after its standby reached the directory");
        }
        finally
        {
            await directory.UpsertRegionAsync(regionB, default);
            await a.StopAsync();
            await b.StopAsync();
        }
    }

    private (string, string)[] LeaseSettings(TcpRelay relay) =>
    [
        ("RegionNode:DirectoryConnectionString", new NpgsqlConnectionStringBuilder(stack.AsNode(stack.DirectoryConnectionString)) { Port = relay.Port, Timeout = 2 }.ConnectionString),
        ("RegionNode:LeaseRenewInterval", "00:00:00.500"),
        ("RegionNode:LeaseTtl", LeaseTtl.ToString()),
    ];

    private IPEndPoint DirectoryEndpoint() => new(IPAddress.Loopback, new NpgsqlConnectionStringBuilder(stack.DirectoryConnectionString).Port);

    private async Task<DateTime> DatabaseNowAsync() => await Sql.ScalarAsync<DateTime>(stack.ShardConnectionString, "SELECT now()");

    private async Task<long> CountAsync(string prefix) =>
        await Sql.ScalarAsync<long>(stack.ShardConnectionString, "SELECT count(*) FROM sessions WHERE acct_session_id LIKE $1", prefix + "%");

    private static async Task<bool?> FailsafeAnswerAsync(RegionNodeServer node)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var answer = await http.GetFromJsonAsync<Shards.DirectoryFailsafe.Answer>(new Uri(node.HttpAddress, Shards.DirectoryFailsafe.Path));
        return answer?.Reachable;
    }

    /// <summary>"accept", "reject" or "silent" (no answer within 300 ms).</summary>
    /// <summary>
    /// Logs in back to back until the node has been silent for half a lease; returns when, on <paramref name="clock"/>,
    /// the last Access-Accept came: it bounds when the node stopped acknowledging.
    /// </summary>
    private async Task<TimeSpan> LastAcceptAsync(RegionNodeServer node, string user, string password, Stopwatch clock, string because)
    {
        var lastAccept = TimeSpan.Zero;
        await Eventually.TrueAsync(async () =>
        {
            var answer = await AuthAsync(node, user, password);
            if (answer == "accept")
            {
                lastAccept = clock.Elapsed;
            }

            return answer == "silent" && clock.Elapsed - lastAccept > LeaseTtl / 2;
        }, LeaseTtl * 4, because, poll: TimeSpan.Zero);
        return lastAccept;
    }

    private async Task<string> AuthAsync(RegionNodeServer node, string user, string password)
    {
        var (_, output) = await Radclient.SendAsync(node.AuthEndpoint, "auth", stack.NasSecret,
            $"User-Name = \"{user}\"\nUser-Password = \"{password}\"\nMessage-Authenticator = 0x00\nPacket-Src-IP-Address = {RegionFixture.NasAddress}", timeoutSeconds: 0.3);
        return output.Contains("Received Access-Accept", StringComparison.Ordinal) ? "accept"
            : output.Contains("Received Access-Reject", StringComparison.Ordinal) ? "reject" : "silent";
    }

    private async Task SendAccountingAsync(IPEndPoint server, string user, string prefix, CancellationToken cancellationToken)
    {
        for (var n = 0; !cancellationToken.IsCancellationRequested; n++)
        {
            await Radclient.SendAsync(server, "acct", stack.NasSecret,
                $"User-Name = \"{user}\"\nAcct-Status-Type = Start\nAcct-Session-Id = \"{prefix}-{n:D6}\"\nPacket-Src-IP-Address = {RegionFixture.NasAddress}", timeoutSeconds: 0.3);
        }
    }
}
