using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Geo.Ctl;
using Geo.Directory.Shards;
using Geo.Directory.Stores.Postgres;
using Geo.Engines.Postgres;
using Geo.Engines;
using Geo.Testing;
using Xunit.Abstractions;

namespace Geo.EndToEnd.Tests;

/// <summary>
/// Region a is lost under accounting load (its node and its PostgreSQL SIGKILLed); <c>geoctl dr promote acme@a --to b</c>
/// makes b the owner: acme@a's subscribers authenticate and account at b, the router serves its API from b, every
/// accounting request a acknowledged up to the standby's applied position is at b, and the printed estimate of what
/// was lost matches what the NAS-like client knows was lost.
/// </summary>
public sealed class PromotionTests(TwoRegions stack, ITestOutputHelper log) : IClassFixture<TwoRegions>
{
    private const string NasAddress = "127.0.10.1";

    [Fact]
    public async Task RegionALostUnderAccountingLoad_PromoteToB_ServesAtBAndLosesOnlyWhatIsAfterTheAppliedPosition()
    {
        var key = new ShardKey("acme", "a");
        var replica = await stack.SeededReplicaAsync("acme", "a", "b");

        // Accounting load through region a, from acme's NAS, with our own log of every acknowledgement.
        var usernames = Enumerable.Range(1, 20).Select(i => stack.Subscriber("acme", "a", i).Username).ToList();
        using var load = new NasAccountingLoad(IPAddress.Parse(NasAddress), stack.RadiusAcct("a"), stack.NasSecret("acme-bng-a"));
        using var stopLoad = new CancellationTokenSource();
        var running = load.RunAsync(usernames, perSecond: 1_500, stopLoad.Token);
        await Eventually.TrueAsync(() => load.Acknowledged.Count >= 3_000, TimeSpan.FromSeconds(60), "region a acknowledges the accounting load");

        // Region a is lost: its node and its database, mid-load.
        var lostAt = DateTimeOffset.UtcNow;
        ProcessTree.Kill(stack.RegionNode("a").Pid!.Value);
        ProcessTree.Kill(PostgresCluster.Open(stack.Layout.RegionPostgres("a"))!.ServerPid!.Value);
        await Task.Delay(TimeSpan.FromMilliseconds(300));
        await stopLoad.CancelAsync();
        await running;
        var acknowledged = load.Acknowledged.ToDictionary();
        log.WriteLine($"load: {load.Sent} sent, {acknowledged.Count} acknowledged by region a before it was lost at {lostAt:HH:mm:ss.fff}");

        // The runbook command.
        var output = new StringWriter();
        var error = new StringWriter();
        var clock = Stopwatch.StartNew();
        var code = await GeoCtlCommand.Create(output, error).Parse(["dr", "promote", "acme@a", "--to", "b", "--state-dir", stack.StateDir]).InvokeAsync();
        log.WriteLine($"geoctl dr promote acme@a --to b: exit {code} in {clock.Elapsed.TotalSeconds:F1} s\n{output}\n{error}");
        Assert.Equal(0, code);

        // Nothing acknowledged up to the applied position is missing; what is missing came after it.
        var applied = await Sql.ScalarAsync<DateTime>(replica, "SELECT source_commit_at FROM replication_progress ORDER BY applied_at DESC LIMIT 1");
        var appliedAt = new DateTimeOffset(DateTime.SpecifyKind(applied, DateTimeKind.Utc));
        var present = await Sessions.PresentAsync(replica, acknowledged.Keys);
        var missing = acknowledged.Where(a => !present.Contains(a.Key)).ToList();
        log.WriteLine($"at b: {present.Count} of {acknowledged.Count} acknowledged present; {missing.Count} missing; last applied source commit {appliedAt:HH:mm:ss.fff}");
        Assert.All(acknowledged.Where(a => a.Value <= appliedAt), a => Assert.Contains(a.Key, present));
        Assert.All(missing, m => Assert.True(m.Value > appliedAt, $"{m.Key} acknowledged at {m.Value:HH:mm:ss.fff}, before the applied position, is missing"));

        // The estimate against the truth: the span of the lost acknowledged commits (their acks bound them from above).
        // The estimate covers what the standby heard of; commits after the source's last message (it said so) are not
        // counted: a stream that fell behind under load leaves a silence before the loss, which bounds the rest.
        var truth = missing.Count == 0 ? 0 : (missing.Max(m => m.Value) - appliedAt).TotalSeconds;
        var (estimate, heardSourceTime) = await EstimateAsync(key);
        Assert.True(heardSourceTime is { } h && h >= appliedAt, $"the standby recorded when it last heard its source ({heardSourceTime:O}), not before the applied commit ({appliedAt:O})");
        var silence = Math.Max(0, (lostAt - heardSourceTime!.Value).TotalSeconds);
        // A stream kept up with the load: the source was heard within a second of its loss (a stale record would show here).
        Assert.True(silence <= 1.0, $"the source was last heard {silence:F3} s before the loss");
        log.WriteLine($"RPO: estimated {estimate:F3} s, true span of the lost acknowledged requests {truth:F3} s ({missing.Count} requests); " +
            $"the source last heard {silence:F3} s before the loss");
        Assert.True(estimate <= truth + 0.05, $"estimate {estimate:F3} s, truth {truth:F3} s: the estimate claims more than was lost");
        if (truth < 0.25)
        {
            Assert.True(truth - estimate <= silence + 0.05, $"estimate {estimate:F3} s, truth {truth:F3} s: more than 50 ms apart beyond the {silence:F3} s the source was not heard");
        }
        else
        {
            Assert.InRange(estimate, truth * 0.8 - silence, truth * 1.2);
        }

        // b serves acme@a as its owner: RADIUS from the NAS's backup endpoint, and the API through the router.
        // One the load never used: the load's Starts hold its subscribers at their Simultaneous-Use limit.
        var (user, password) = stack.Subscriber("acme", "a", 25);
        var secret = stack.NasSecret("acme-bng-a");
        var login = await Radclient.SendAsync(stack.RadiusAuth("b"), "auth", secret,
            $"User-Name = \"{user}\"\nUser-Password = \"{password}\"\nMessage-Authenticator = 0x00\nPacket-Src-IP-Address = {NasAddress}", timeoutSeconds: 3);
        Assert.Contains("Received Access-Accept", login.Output, StringComparison.Ordinal);
        var session = $"after-{Guid.NewGuid():N}";
        var accounting = await Radclient.SendAsync(stack.RadiusAcct("b"), "acct", secret,
            $"User-Name = \"{user}\"\nAcct-Status-Type = Start\nAcct-Session-Id = \"{session}\"\nPacket-Src-IP-Address = {NasAddress}", timeoutSeconds: 3);
        Assert.Contains("Received Accounting-Response", accounting.Output, StringComparison.Ordinal);
        Assert.Contains(session, await Sessions.PresentAsync(replica, [session]));

        using var api = stack.Api("acme");
        using var response = await api.GetAsync($"/tenants/acme/subscribers/{user}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("b", response.Headers.GetValues("Geo-Region").Single());

        // Billing holds at b: every balance is its ledger's sum, no CDR charged twice.
        await Billing.AssertHoldsAsync(replica);

        // The directory and the DR log say what happened.
        await using var directory = new PostgresDirectoryStore(stack.DirectoryConnectionString);
        var shard = (await directory.LoadAsync(default)).Shards.Single(s => s.Key == key);
        Assert.Equal(("b", (string?)null, ShardState.Active), (shard.OwnerRegion, shard.StandbyRegion, shard.State));
        var events = await directory.ListDrEventsAsync(key, 100, default);
        Assert.Contains(events, e => e is { Step: "done", Outcome: "done" });

        // Run again: it says so and changes nothing.
        var again = await GeoCtlCommand.Create(output, error).Parse(["dr", "promote", "acme@a", "--to", "b", "--state-dir", stack.StateDir]).InvokeAsync();
        Assert.Equal(0, again);
        Assert.Equal(shard.Epoch, (await directory.LoadAsync(default)).Shards.Single(s => s.Key == key).Epoch);
    }

    /// <summary>The estimate the promotion recorded in the DR log (the one it printed), and the source time of the last message the standby heard.</summary>
    private async Task<(double Seconds, DateTimeOffset? HeardSourceTime)> EstimateAsync(ShardKey key)
    {
        await using var directory = new PostgresDirectoryStore(stack.DirectoryConnectionString);
        var estimate = (await directory.ListDrEventsAsync(key, 100, default)).Last(e => e.Step.StartsWith("5 ", StringComparison.Ordinal));
        using var data = JsonDocument.Parse(estimate.DataJson!);
        Assert.True(data.RootElement.GetProperty("known").GetBoolean(), estimate.Detail);
        var heard = data.RootElement.GetProperty("heard_source_time");
        return (data.RootElement.GetProperty("seconds").GetDouble(), heard.ValueKind == JsonValueKind.Null ? null : heard.GetDateTimeOffset());
    }
}
