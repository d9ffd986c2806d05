using System.Diagnostics;
using Geo.Engines;
using Geo.Testing;
using Xunit.Abstractions;

namespace Geo.EndToEnd.Tests;

/// <summary>
/// Region a's node is lost (SIGKILL) and nobody promotes: its NAS's backup endpoint, region b, keeps acme@a's
/// subscribers online. Authentication is decided from b's replica (a valid subscriber accepted, a wrong password
/// rejected, never a reject because a could not be reached); accounting is committed to b's survivability journal and
/// acknowledged. When a comes back, the journal is handed to it, charged once, and leaves b.
/// </summary>
public sealed class SurvivabilityTests(TwoRegions stack, ITestOutputHelper log) : IClassFixture<TwoRegions>
{
    private const string NasAddress = "127.0.10.1";

    [Fact]
    public async Task RegionANodeKilled_BAnswersFromReplicaAndJournal_ThenHandsTheJournalToA()
    {
        var shard = stack.ShardConnectionString("acme", "a");
        var journal = stack.JournalConnectionString("b");
        await stack.SeededReplicaAsync("acme", "a", "b");
        var secret = stack.NasSecret("acme-bng-a");
        // Subscribers the other tests' loads never use (their sessions would count against Simultaneous-Use).
        var (user, password) = stack.Subscriber("acme", "a", 27);
        var (other, otherPassword) = stack.Subscriber("acme", "a", 28);
        Assert.Equal("accept", await Nas.LoginAsync(stack.RadiusAuth("a"), user, password, secret, NasAddress));
        // b sends heartbeats to a, and a answers them: a is not deemed down while it lives.
        await Eventually.TrueAsync(async () => await stack.NodeMetricAsync("b", "geo_owner_heartbeats_total{outcome=\"answered\"}") >= 3,
            TimeSpan.FromSeconds(10), "region a answers b's heartbeats");
        Assert.Contains("\"owners_down\":[]", await stack.NodeHealthAsync("b"), StringComparison.Ordinal);

        var clock = Stopwatch.StartNew();
        ProcessTree.Kill(stack.RegionNode("a").Pid!.Value);
        try
        {
            // b's heartbeats find a gone before any request reaches b, as a NAS waits out its own timeouts on a first.
            await Eventually.TrueAsync(async () => (await stack.NodeHealthAsync("b")).Contains("\"owners_down\":[\"a\"]", StringComparison.Ordinal),
                TimeSpan.FromSeconds(10), "b deems region a down from its heartbeats alone, with no request for it");
            log.WriteLine($"b deemed region a down {clock.Elapsed.TotalSeconds:F2} s after its node was killed");

            // The NAS's backup endpoint: b answers from its replica at once.
            Assert.Equal("accept", await Nas.LoginAsync(stack.RadiusAuth("b"), user, password, secret, NasAddress));
            log.WriteLine($"first Access-Accept through b {clock.Elapsed.TotalSeconds:F2} s after region a's node was killed");
            Assert.Equal("reject", await Nas.LoginAsync(stack.RadiusAuth("b"), other, otherPassword + "x", secret, NasAddress));
            Assert.Equal("accept", await Nas.LoginAsync(stack.RadiusAuth("b"), other, otherPassword, secret, NasAddress));

            // Accounting at b is journaled, then acknowledged: a whole session, start to stop.
            var session = $"survive-{Guid.NewGuid():N}";
            Assert.Equal("ok", await Nas.AccountAsync(stack.RadiusAcct("b"), user, session, "Start", secret, NasAddress));
            // Simultaneous-Use counts the session started here (in the journal, not yet at a): the plan allows one.
            Assert.Equal("reject", await Nas.LoginAsync(stack.RadiusAuth("b"), user, password, secret, NasAddress));
            Assert.Equal("ok", await Nas.AccountAsync(stack.RadiusAcct("b"), user, session, "Interim-Update", secret, NasAddress,
                "Acct-Input-Octets = 1000000\nAcct-Output-Octets = 2000000\nAcct-Session-Time = 60\n"));
            Assert.Equal("ok", await Nas.AccountAsync(stack.RadiusAcct("b"), user, session, "Stop", secret, NasAddress,
                "Acct-Input-Octets = 3000000\nAcct-Output-Octets = 4000000\nAcct-Session-Time = 120\n"));
            Assert.Equal(3L, await Billing.JournaledAsync(journal, session));
            // Stopped here, it no longer counts.
            Assert.Equal("accept", await Nas.LoginAsync(stack.RadiusAuth("b"), user, password, secret, NasAddress));
            Assert.Equal(0L, await Sql.ScalarAsync<long>(shard, "SELECT count(*) FROM sessions WHERE acct_session_id = $1", session));

            // a comes back (no promotion): b hands the journal to it, in order; the session is closed there with its
            // last counters, charged once, and gone from b's journal.
            await stack.UpAsync();
            await Eventually.TrueAsync(async () => await Billing.JournaledAsync(journal, session) == 0,
                TimeSpan.FromSeconds(60), "b's journal is handed to a");
            Assert.Equal("closed", await Sql.ScalarAsync<string>(shard, "SELECT state FROM sessions WHERE acct_session_id = $1", session));
            Assert.Equal(3_000_000L, await Sql.ScalarAsync<long>(shard, "SELECT input_octets FROM sessions WHERE acct_session_id = $1", session));
            await Billing.AssertHoldsAsync(shard);

            // And a serves its own subscribers again.
            Assert.Equal("accept", await Nas.LoginAsync(stack.RadiusAuth("a"), other, otherPassword, secret, NasAddress));
        }
        finally
        {
            await stack.UpAsync();
        }
    }

    /// <summary>
    /// The NAS restarts while region a is lost and sends its Accounting-On to its backup, b: b closes the NAS's sessions
    /// in the shards it owns and journals the restart for acme@a, in order with the accounting around it. When a is
    /// back, the sessions started before the restart are closed there, the one started after it stays open.
    /// </summary>
    [Fact]
    public async Task RegionANodeKilled_AccountingOnAtB_IsJournaled_AndClosesTheSessionsBeforeItAtA()
    {
        var shard = stack.ShardConnectionString("acme", "a");
        var ownedByB = stack.ShardConnectionString("acme", "b");
        var journal = stack.JournalConnectionString("b");
        await stack.SeededReplicaAsync("acme", "a", "b");
        var secret = stack.NasSecret("acme-bng-a");
        var (early, _) = stack.Subscriber("acme", "a", 25);
        var (before, _) = stack.Subscriber("acme", "a", 24);
        var (after, _) = stack.Subscriber("acme", "a", 23);
        var (roaming, _) = stack.Subscriber("acme", "b", 25);
        var run = Guid.NewGuid().ToString("N")[..8];
        Assert.Equal("ok", await Nas.AccountAsync(stack.RadiusAcct("a"), early, $"early-{run}", "Start", secret, NasAddress));
        Assert.Equal("ok", await Nas.AccountAsync(stack.RadiusAcct("a"), roaming, $"roaming-{run}", "Start", secret, NasAddress));
        Assert.Equal("open", await Sql.ScalarAsync<string>(ownedByB, "SELECT state FROM sessions WHERE acct_session_id = $1", $"roaming-{run}"));

        ProcessTree.Kill(stack.RegionNode("a").Pid!.Value);
        try
        {
            await Eventually.TrueAsync(async () => (await stack.NodeHealthAsync("b")).Contains("\"owners_down\":[\"a\"]", StringComparison.Ordinal),
                TimeSpan.FromSeconds(10), "b deems region a down");
            Assert.Equal("ok", await Nas.AccountAsync(stack.RadiusAcct("b"), before, $"before-{run}", "Start", secret, NasAddress));
            Assert.Equal("ok", await Nas.RestartedAsync(stack.RadiusAcct("b"), secret, NasAddress));
            Assert.Equal("ok", await Nas.AccountAsync(stack.RadiusAcct("b"), after, $"after-{run}", "Start", secret, NasAddress));

            // b owns acme@b: the restart closed the NAS's session there at once. acme@a's is in b's journal, in order.
            Assert.Equal("closed", await Sql.ScalarAsync<string>(ownedByB, "SELECT state FROM sessions WHERE acct_session_id = $1", $"roaming-{run}"));
            Assert.Equal(1L, await Sql.ScalarAsync<long>(journal,
                "SELECT count(*) FROM survival_journal WHERE tenant_id = 'acme' AND home_region = 'a' AND status_type = 7 " +
                "AND id > (SELECT id FROM survival_journal WHERE acct_session_id = $1) AND id < (SELECT id FROM survival_journal WHERE acct_session_id = $2)",
                $"before-{run}", $"after-{run}"));

            await stack.UpAsync();
            await Eventually.TrueAsync(async () => await Sql.ScalarAsync<long>(journal, "SELECT count(*) FROM survival_journal WHERE tenant_id = 'acme' AND home_region = 'a'") == 0,
                TimeSpan.FromSeconds(60), "b's journal is handed to a");
            const string State = "SELECT state || ' ' || coalesce(terminate_cause, '-') FROM sessions WHERE acct_session_id = $1";
            Assert.Equal("closed NAS-Reboot (Accounting-On)", await Sql.ScalarAsync<string>(shard, State, $"early-{run}"));
            Assert.Equal("closed NAS-Reboot (Accounting-On)", await Sql.ScalarAsync<string>(shard, State, $"before-{run}"));
            Assert.Equal("open -", await Sql.ScalarAsync<string>(shard, State, $"after-{run}"));
            await Billing.AssertHoldsAsync(shard);
        }
        finally
        {
            await stack.UpAsync();
            await Nas.AccountAsync(stack.RadiusAcct("a"), after, $"after-{run}", "Stop", secret, NasAddress);
        }
    }

    /// <summary>
    /// The same with region a's PostgreSQL lost instead of its node: a's node lives but answers nothing for acme@a, so b
    /// answers from its replica and journals; when a's PostgreSQL is back (no promotion) the journal goes to a, charged once.
    /// </summary>
    [Fact]
    public async Task RegionADatabaseKilled_BAnswersFromReplicaAndJournal_ThenHandsTheJournalToAWhenItIsBack()
    {
        var shard = stack.ShardConnectionString("acme", "a");
        var journal = stack.JournalConnectionString("b");
        await stack.SeededReplicaAsync("acme", "a", "b");
        var secret = stack.NasSecret("acme-bng-a");
        var (user, password) = stack.Subscriber("acme", "a", 26);

        ProcessTree.Kill(Geo.Engines.Postgres.PostgresCluster.Open(stack.Layout.RegionPostgres("a"))!.ServerPid!.Value);
        // This process's own pooled sessions to it (the fixture's geoctl up) died with it.
        Npgsql.NpgsqlConnection.ClearAllPools();
        try
        {
            Assert.Equal("accept", await Nas.LoginAsync(stack.RadiusAuth("b"), user, password, secret, NasAddress));
            var session = $"survive-db-{Guid.NewGuid():N}";
            Assert.Equal("ok", await Nas.AccountAsync(stack.RadiusAcct("b"), user, session, "Start", secret, NasAddress));
            Assert.Equal("ok", await Nas.AccountAsync(stack.RadiusAcct("b"), user, session, "Stop", secret, NasAddress,
                "Acct-Input-Octets = 5000000\nAcct-Output-Octets = 6000000\nAcct-Session-Time = 90\n"));
            Assert.Equal(2L, await Billing.JournaledAsync(journal, session));

            // a's PostgreSQL comes back (its node never left): b hands the journal to it, in order, charged once.
            await stack.UpAsync();
            await Eventually.TrueAsync(async () => await Billing.JournaledAsync(journal, session) == 0,
                TimeSpan.FromSeconds(60), "b's journal is handed to a once its database is back");
            Assert.Equal("closed", await Sql.ScalarAsync<string>(shard, "SELECT state FROM sessions WHERE acct_session_id = $1", session));
            Assert.Equal(5_000_000L, await Sql.ScalarAsync<long>(shard, "SELECT input_octets FROM sessions WHERE acct_session_id = $1", session));
            Assert.Equal(1L, await Sql.ScalarAsync<long>(shard, "SELECT count(*) FROM sessions WHERE acct_session_id = $1", session));
            await Billing.AssertHoldsAsync(shard);
            Assert.Equal("accept", await Nas.LoginAsync(stack.RadiusAuth("a"), user, password, secret, NasAddress));
        }
        finally
        {
            await stack.UpAsync();
        }
    }
}
