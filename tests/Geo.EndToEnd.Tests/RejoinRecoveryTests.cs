using System.Net;
using System.Net.Http.Json;
using Geo.Directory.Shards;
using Geo.Directory.Stores.Postgres;
using Geo.Engines.Postgres;
using Geo.Engines;
using Geo.Testing;
using Xunit.Abstractions;

namespace Geo.EndToEnd.Tests;

/// <summary>
/// <c>geoctl dr rejoin</c> run as its own process and SIGKILLed the moment it announces each of its steps: the same command run
/// again finishes the rejoin, and nothing of the tail is charged or applied twice. Each case has a tenant of its own whose
/// owner a committed a tail b never got (b's replicator SIGKILLed), then was promoted away from while it ran.
/// </summary>
public sealed class RejoinRecoveryTests(TwoRegions stack, ITestOutputHelper log) : IClassFixture<TwoRegions>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData(1, "1")]
    [InlineData(2, "2")]
    [InlineData(3, "3a")]
    [InlineData(4, "3b")]
    [InlineData(5, "4")]
    [InlineData(6, "5")]
    [InlineData(7, "6")]
    [InlineData(8, "7")]
    public async Task Rejoin_KilledWhenItAnnouncesAStep_RunAgainFinishesItChargingNothingTwice(int n, string step)
    {
        var tenant = $"rejoin{n}";
        var nas = IPAddress.Parse($"127.0.32.{n}");
        var (session, topUp) = await PromoteAwayWithATailAsync(tenant, nas);
        string[] rejoin = ["dr", "rejoin", $"{tenant}@a"];

        var (killed, output) = await stack.GeoctlUntilAsync(line => line.TrimStart().StartsWith($"... {step} ", StringComparison.Ordinal), rejoin,
            (_, _) => Task.CompletedTask, Deadline);
        Assert.True(killed, $"geoctl finished before it announced step {step}:\n{output}");

        var (code, again) = await Eventually.ValueAsync(() => stack.GeoctlAsync(rejoin),
            run => !(run.Code == 2 && run.Output.Contains("is running", StringComparison.Ordinal)), Deadline,
            "the killed rejoin's driver lease lapses", poll: TimeSpan.FromMilliseconds(500));
        log.WriteLine($"killed at step {step}; run again: exit {code}\n{again}");
        Assert.True(code == 0, again);

        // Charged once, applied once, and a stands by with a fresh replica; its old database kept.
        var owner = stack.ShardConnectionString(tenant, "a", cluster: "b");
        Assert.Equal(3_000_000L, await Sql.ScalarAsync<long>(owner,
            "SELECT coalesce(sum(c.delta_input_octets + c.delta_output_octets), 0)::bigint FROM cdrs c JOIN sessions s ON s.id = c.session_id WHERE s.acct_session_id = $1", session));
        Assert.Equal(1L, await Sql.ScalarAsync<long>(owner, "SELECT count(*) FROM ledger_entries WHERE idempotency_key = $1", topUp));
        await Billing.AssertHoldsAsync(owner);
        await using var directory = new PostgresDirectoryStore(stack.DirectoryConnectionString);
        var shard = (await directory.LoadAsync(default)).Shards.Single(s => s.Key == new ShardKey(tenant, "a"));
        Assert.Equal(("b", (string?)"a", ShardState.Active), (shard.OwnerRegion, shard.StandbyRegion, shard.State));
        var server = PostgresCluster.Open(stack.Layout.RegionPostgres("a"))!.ConnectionString("postgres");
        Assert.Equal(1L, await Sql.ScalarAsync<long>(server, "SELECT count(*) FROM pg_database WHERE datname = $1", $"geo_{tenant}_a_rejoined_e{shard.Epoch}"));
        await Eventually.TrueAsync(async () => await Sql.ScalarAsync<long>(stack.ShardConnectionString(tenant, "a", cluster: "a"),
            "SELECT count(*) FROM ledger_entries WHERE idempotency_key = $1", topUp) == 1, Deadline, "a's new replica has the top-up");
    }

    /// <summary>
    /// A tenant homed in a, standing by in b, with a NAS and a subscriber; b's replicator is SIGKILLed, a commits a session with
    /// usage and a top-up (its tail), and the shard is promoted to b while a runs. Returns the session and the top-up's key.
    /// </summary>
    private async Task<(string Session, string TopUpKey)> PromoteAwayWithATailAsync(string tenant, IPAddress nas)
    {
        var (code, output) = await stack.GeoctlAsync("tenant", "create", tenant, "--home", "a", "--standby-of", "a=b");
        Assert.True(code == 0, output);
        var secretFile = Path.Combine(stack.StateDir, $"{tenant}.nas-secret");
        await File.WriteAllTextAsync(secretFile, $"{tenant}-secret-0123456789");
        (code, output) = await stack.GeoctlAsync("nas", "add", "--tenant", tenant, "--id", $"{tenant}-bng", "--address", nas.ToString(), "--secret-file", secretFile,
            "--primary", "a", "--backup", "b");
        Assert.True(code == 0, output);

        var user = $"{tenant}-user";
        using (var atA = stack.RegionApi(tenant, "a"))
        {
            await Eventually.TrueAsync(async () =>
            {
                using var plan = await atA.PutAsJsonAsync($"/tenants/{tenant}/plans/basic", new { displayName = "Basic", downloadKbps = 10_000, uploadKbps = 2_000 });
                return plan.StatusCode == HttpStatusCode.OK;
            }, Deadline, $"region a serves tenant {tenant}", TimeSpan.FromMilliseconds(100));
            using var created = await atA.PostAsJsonAsync($"/tenants/{tenant}/subscribers", new { username = user, password = "secret-123456", planId = "basic", region = "a" });
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        var replica = stack.ShardConnectionString(tenant, "a", cluster: "b");
        await Eventually.TrueAsync(async () => await Sql.ScalarAsync<long>(replica, "SELECT count(*) FROM subscribers WHERE username = $1", user) == 1,
            Deadline, $"b's replica of {tenant}@a has the subscriber", TimeSpan.FromMilliseconds(100));

        // b stops hearing a: what a commits now is its tail.
        ProcessTree.Kill(stack.Replicator("b").Pid!.Value);
        var session = $"{tenant}-{Guid.NewGuid():N}";
        var secret = await File.ReadAllTextAsync(secretFile);
        foreach (var (status, input, seconds) in new[] { ("Start", 0, 0), ("Interim-Update", 1_000_000, 30), ("Stop", 3_000_000, 60) })
        {
            var reply = await Radclient.SendAsync(stack.RadiusAcct("a"), "acct", secret,
                $"User-Name = \"{user}\"\nAcct-Status-Type = {status}\nAcct-Session-Id = \"{session}\"\nAcct-Input-Octets = {input}\nAcct-Session-Time = {seconds}\nPacket-Src-IP-Address = {nas}",
                timeoutSeconds: 3, tries: 3);
            Assert.True(reply.Output.Contains("Received Accounting-Response", StringComparison.Ordinal), reply.Output);
        }

        var topUp = $"{tenant}-topup-{Guid.NewGuid():N}";
        using (var atA = stack.RegionApi(tenant, "a"))
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/tenants/{tenant}/subscribers/{user}/topups") { Content = JsonContent.Create(new { amountMicros = 2_000_000 }) };
            request.Headers.Add("Idempotency-Key", topUp);
            using var response = await atA.SendAsync(request);
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        }

        // Promoted while b's replicator is down (it would fetch the tail); started again afterwards, it has nothing to stream for b.
        (code, output) = await stack.GeoctlAsync("dr", "promote", $"{tenant}@a", "--to", "b");
        Assert.True(code == 0, output);
        Assert.Equal(0L, await Sql.ScalarAsync<long>(replica, "SELECT count(*) FROM ledger_entries WHERE idempotency_key = $1", topUp));
        await stack.UpAsync();
        return (session, topUp);
    }
}
