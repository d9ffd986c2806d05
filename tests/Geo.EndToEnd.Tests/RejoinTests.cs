using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Geo.Directory.Shards;
using Geo.Directory.Stores.Postgres;
using Geo.Engines.Postgres;
using Geo.Engines;
using Geo.Testing;
using Xunit.Abstractions;

namespace Geo.EndToEnd.Tests;

/// <summary>
/// The whole unplanned cycle but failback: region a acknowledges accounting and a top-up that never reach b (b's replicator is
/// stopped, so the tail is certain), a is SIGKILLed, b is promoted, the NAS goes on at b, a comes back and
/// <c>geoctl dr rejoin acme@a</c> reconciles a's divergent tail into b and makes a the standby again. Every request a ever
/// acknowledged is then at b, each session's usage charged exactly once, the top-up applied once, the books hold, and a's new
/// replica verifies equal to b; then <c>geoctl dr failback acme@a</c> brings it home with nothing lost.
/// </summary>
public sealed class RejoinTests(TwoRegions stack, ITestOutputHelper log) : IClassFixture<TwoRegions>
{
    private const string NasAddress = "127.0.10.1";

    [Fact]
    public async Task RegionALostWithAnUnshippedTail_PromoteThenRejoin_EveryAcknowledgedRequestAtBChargedOnceAndAStandsByAgain()
    {
        var key = new ShardKey("acme", "a");
        var replica = await stack.SeededReplicaAsync("acme", "a", "b");
        var secret = stack.NasSecret("acme-bng-a");

        // Accounting load through region a; then the standby stops applying: what a acknowledges from here is its tail.
        var usernames = Enumerable.Range(1, 20).Select(i => stack.Subscriber("acme", "a", i).Username).ToList();
        using var load = new NasAccountingLoad(IPAddress.Parse(NasAddress), stack.RadiusAcct("a"), secret);
        using var stopLoad = new CancellationTokenSource();
        var running = load.RunAsync(usernames, perSecond: 300, stopLoad.Token);
        await Eventually.TrueAsync(() => load.Acknowledged.Count >= 600, TimeSpan.FromSeconds(60), "region a acknowledges the accounting load");
        await stack.StopReplicatorAsync("b");
        var beforeTail = load.Acknowledged.Count;

        // In the tail: a session with usage, closed; a session with usage whose interim the NAS will send again to b; a top-up.
        var user = stack.Subscriber("acme", "a", 25).Username;
        var (closed, open) = ($"tail-closed-{Guid.NewGuid():N}", $"tail-open-{Guid.NewGuid():N}");
        await AccountAsync("a", user, closed, "Start", 0, 0, 0);
        await AccountAsync("a", user, closed, "Interim-Update", 3_000_000, 1_000_000, 60);
        await AccountAsync("a", user, closed, "Stop", 6_000_000, 2_000_000, 120);
        await AccountAsync("a", user, open, "Start", 0, 0, 0);
        await AccountAsync("a", user, open, "Interim-Update", 4_000_000, 0, 30);
        var topUpKey = $"tail-topup-{Guid.NewGuid():N}";
        var (suspended, editedTwice) = (stack.Subscriber("acme", "a", 26).Username, stack.Subscriber("acme", "a", 27).Username);
        var created = $"acme-a-tail-{Guid.NewGuid().ToString("N")[..8]}";
        using (var api = stack.RegionApi("acme", "a"))
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/tenants/acme/subscribers/{user}/topups") { Content = JsonContent.Create(new { amountMicros = 7_000_000, reason = "tail" }) };
            request.Headers.Add("Idempotency-Key", topUpKey);
            using var response = await api.SendAsync(request);
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);

            // Rows the API writes: one edited only here, one edited here and later at b, one created here.
            await SendAsync(api, HttpMethod.Post, $"/tenants/acme/subscribers/{suspended}/suspend", null, HttpStatusCode.OK);
            await SendAsync(api, HttpMethod.Patch, $"/tenants/acme/subscribers/{editedTwice}", new { framedIp = "10.9.9.1" }, HttpStatusCode.OK);
            var plan = (await api.GetFromJsonAsync<JsonElement>($"/tenants/acme/subscribers/{user}")).GetProperty("planId").GetString();
            await SendAsync(api, HttpMethod.Post, "/tenants/acme/subscribers", new { username = created, password = "tail-secret-1", planId = plan, region = "a" }, HttpStatusCode.Created);
            using var first = new HttpRequestMessage(HttpMethod.Post, $"/tenants/acme/subscribers/{created}/topups") { Content = JsonContent.Create(new { amountMicros = 3_000_000 }) };
            first.Headers.Add("Idempotency-Key", $"{topUpKey}-new");
            using var firstResponse = await api.SendAsync(first);
            Assert.Equal(HttpStatusCode.Created, firstResponse.StatusCode);
        }

        await Eventually.TrueAsync(() => load.Acknowledged.Count >= beforeTail + 900, TimeSpan.FromSeconds(60), "region a acknowledges more of the load");

        // Region a is lost; b is promoted without a's tail.
        ProcessTree.Kill(stack.RegionNode("a").Pid!.Value);
        ProcessTree.Kill(PostgresCluster.Open(stack.Layout.RegionPostgres("a"))!.ServerPid!.Value);
        await stopLoad.CancelAsync();
        await running;
        var acknowledged = load.Acknowledged.Keys.Concat([closed, open]).ToList();
        var (promoteCode, promoted) = await stack.GeoctlAsync("dr", "promote", "acme@a", "--to", "b");
        log.WriteLine($"geoctl dr promote acme@a --to b: exit {promoteCode}\n{promoted}");
        Assert.Equal(0, promoteCode);
        Assert.Contains("not in this estimate", promoted, StringComparison.Ordinal);
        var missing = acknowledged.Except(await Sessions.PresentAsync(replica, acknowledged)).ToList();
        log.WriteLine($"{acknowledged.Count} requests acknowledged by a; {missing.Count} of them not at b after the promotion");
        Assert.Contains(closed, missing);
        Assert.True(missing.Count >= 900, $"only {missing.Count} missing: the tail is not what the test made it");

        // The NAS goes on at b: it sends the open session's interim again (a's answer was lost), then a newer one.
        await AccountAsync("b", user, open, "Interim-Update", 4_000_000, 0, 30);
        await AccountAsync("b", user, open, "Interim-Update", 5_000_000, 0, 40);
        using (var api = stack.RegionApi("acme", "b"))
        {
            await SendAsync(api, HttpMethod.Patch, $"/tenants/acme/subscribers/{editedTwice}", new { framedIp = "10.9.9.2" }, HttpStatusCode.OK);
        }

        // b knows nothing of the suspension yet: the subscriber logs in there (and b's nodes cache its profile).
        Assert.Contains("Received Access-Accept", await LoginAsync("b", 26), StringComparison.Ordinal);

        // Region a is back; it rejoins.
        await stack.UpAsync();
        var (code, output) = await stack.GeoctlAsync("dr", "rejoin", "acme@a");
        log.WriteLine($"geoctl dr rejoin acme@a: exit {code}\n{output}");
        Assert.Equal(0, code);

        // Everything a acknowledged is at b, charged once; the top-up once; the books hold.
        Assert.Empty(acknowledged.Except(await Sessions.PresentAsync(replica, acknowledged)));
        Assert.Equal(8_000_000L, await UsageAsync(replica, closed));
        Assert.Equal(5_000_000L, await UsageAsync(replica, open));
        Assert.Equal(1L, await Sql.ScalarAsync<long>(replica, "SELECT count(*) FROM ledger_entries WHERE idempotency_key = $1", topUpKey));
        await Billing.AssertHoldsAsync(replica);
        Assert.Equal(0, (await stack.GeoctlAsync("check-ledger")).Code);

        // Rows: the edit made only at a is at b; of the edits made on both sides the newer (b's) stands; the new subscriber is at b.
        Assert.Equal("suspended", await Sql.ScalarAsync<string>(replica, "SELECT status FROM subscribers WHERE username = $1", suspended));
        Assert.Contains("Received Access-Reject", await LoginAsync("b", 26), StringComparison.Ordinal);
        Assert.Equal("10.9.9.2", await Sql.ScalarAsync<string>(replica, "SELECT host(framed_ip) FROM subscribers WHERE username = $1", editedTwice));
        // Its balance is its top-up, once: the balance row is copied as it was created, and the top-up re-applied on it.
        Assert.Equal(3_000_000L, await Sql.ScalarAsync<long>(replica, "SELECT b.amount_micros FROM subscribers s JOIN balances b ON b.subscriber_id = s.id WHERE s.username = $1", created));

        // The report says what was reconciled, and lists the conflict.
        var report = System.IO.Directory.GetFiles(Path.Combine(stack.StateDir, "reports"), "rejoin-acme-a-*.json").Single();
        using (var json = JsonDocument.Parse(await File.ReadAllTextAsync(report)))
        {
            var root = json.RootElement;
            Assert.True(root.GetProperty("accounting_reapplied").GetInt32() >= missing.Count, root.ToString());
            Assert.Equal(2, root.GetProperty("ledger_applied").GetInt32());
            Assert.True(root.GetProperty("rows_inserted").GetInt32() >= 2, root.ToString());
            var conflict = Assert.Single(root.GetProperty("row_conflicts").EnumerateArray());
            Assert.Equal(("subscribers", "owner's"), (conflict.GetProperty("table").GetString(), conflict.GetProperty("kept").GetString()));
        }

        // a stands by again: the directory says so, its old database is kept, its new replica equals b.
        await using var directory = new PostgresDirectoryStore(stack.DirectoryConnectionString);
        var shard = (await directory.LoadAsync(default)).Shards.Single(s => s.Key == key);
        Assert.Equal(("b", (string?)"a", ShardState.Active), (shard.OwnerRegion, shard.StandbyRegion, shard.State));
        var aServer = PostgresCluster.Open(stack.Layout.RegionPostgres("a"))!;
        Assert.Equal(1L, await Sql.ScalarAsync<long>(aServer.ConnectionString("postgres"), "SELECT count(*) FROM pg_database WHERE datname LIKE 'geo_acme_a_rejoined_e%'"));
        var (verifyCode, verified) = await stack.GeoctlAsync("verify", "acme@a");
        log.WriteLine(verified);
        Assert.Equal(0, verifyCode);

        // Run again: nothing to do, nothing charged twice.
        var (again, againOutput) = await stack.GeoctlAsync("dr", "rejoin", "acme@a");
        Assert.True(again == 0, againOutput);
        Assert.Contains("standby of acme@a already", againOutput, StringComparison.Ordinal);
        Assert.Equal(8_000_000L, await UsageAsync(replica, closed));
        Assert.Equal(5_000_000L, await UsageAsync(replica, open));

        // Failback: home in a again with nothing lost, b its standby.
        var (failback, failbackOutput) = await stack.GeoctlAsync("dr", "failback", "acme@a");
        log.WriteLine($"geoctl dr failback acme@a: exit {failback}\n{failbackOutput}");
        Assert.Equal(0, failback);
        Assert.Contains("data lost: none", failbackOutput, StringComparison.Ordinal);
        Assert.Contains("checksums equal", failbackOutput, StringComparison.Ordinal);
        shard = (await directory.LoadAsync(default)).Shards.Single(s => s.Key == key);
        Assert.Equal(("a", (string?)"b", ShardState.Active), (shard.OwnerRegion, shard.StandbyRegion, shard.State));
        var home = stack.ShardConnectionString("acme", "a", cluster: "a");
        Assert.Empty(acknowledged.Except(await Sessions.PresentAsync(home, acknowledged)));
        Assert.Equal(8_000_000L, await UsageAsync(home, closed));
        Assert.Equal(5_000_000L, await UsageAsync(home, open));
        await Billing.AssertHoldsAsync(home);
        Assert.Equal(0, (await stack.GeoctlAsync("verify", "acme@a")).Code);
    }

    private async Task<string> LoginAsync(string region, int index)
    {
        var (user, password) = stack.Subscriber("acme", "a", index);
        return (await Radclient.SendAsync(stack.RadiusAuth(region), "auth", stack.NasSecret("acme-bng-a"),
            $"User-Name = \"{user}\"\nUser-Password = \"{password}\"\nMessage-Authenticator = 0x00\nPacket-Src-IP-Address = {NasAddress}", timeoutSeconds: 3)).Output;
    }

    private static async Task SendAsync(HttpClient api, HttpMethod method, string path, object? body, HttpStatusCode expected)
    {
        using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        using var response = await api.SendAsync(request);
        Assert.True(response.StatusCode == expected, $"{method} {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    private async Task AccountAsync(string region, string user, string session, string status, long input, long output, int seconds)
    {
        var reply = await Radclient.SendAsync(stack.RadiusAcct(region), "acct", stack.NasSecret("acme-bng-a"),
            $"User-Name = \"{user}\"\nAcct-Status-Type = {status}\nAcct-Session-Id = \"{session}\"\nAcct-Input-Octets = {input}\nAcct-Output-Octets = {output}\n" +
            $"Acct-Session-Time = {seconds}\nPacket-Src-IP-Address = {NasAddress}", timeoutSeconds: 3);
        Assert.True(reply.Output.Contains("Received Accounting-Response", StringComparison.Ordinal), $"{status} of {session} at {region}: {reply.Output}");
    }

    /// <summary>A session's usage as its CDRs charged it: the sum of their octet deltas.</summary>
    private static Task<long> UsageAsync(string database, string session) => Sql.ScalarAsync<long>(database, """
        SELECT coalesce(sum(c.delta_input_octets + c.delta_output_octets), 0)::bigint FROM cdrs c JOIN sessions s ON s.id = c.session_id WHERE s.acct_session_id = $1
        """, session);
}
