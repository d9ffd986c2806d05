using System.Diagnostics;
using Geo.Ctl.Billing;
using Geo.Engines.Postgres;
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
        var replica = stack.ShardConnectionString("acme", "a", cluster: "b");
        var shard = stack.ShardConnectionString("acme", "a");
        var journal = PostgresCluster.Open(stack.Layout.RegionPostgres("b"))!.ConnectionString("geo_journal");
        await Eventually.TrueAsync(async () => await Sql.ScalarAsync<long>(replica, "SELECT count(*) FROM replication_progress") > 0,
            TimeSpan.FromSeconds(60), "the standby's replica of acme@a was seeded");
        var secret = stack.NasSecret("acme-bng-a");
        // Subscribers the other tests' loads never use (their sessions would count against Simultaneous-Use).
        var (user, password) = stack.Subscriber("acme", "a", 27);
        var (other, otherPassword) = stack.Subscriber("acme", "a", 28);
        Assert.Equal("accept", await LoginAsync("a", user, password, secret));

        var clock = Stopwatch.StartNew();
        ProcessTree.Kill(stack.RegionNode("a").Pid!.Value);
        try
        {
            // The NAS's backup endpoint: b asks a, gets nothing, and answers from its replica.
            Assert.Equal("accept", await LoginAsync("b", user, password, secret));
            log.WriteLine($"first Access-Accept through b {clock.Elapsed.TotalSeconds:F2} s after region a's node was killed");
            Assert.Equal("reject", await LoginAsync("b", other, otherPassword + "x", secret));
            Assert.Equal("accept", await LoginAsync("b", other, otherPassword, secret));

            // Accounting at b is journaled, then acknowledged: a whole session, start to stop.
            var session = $"survive-{Guid.NewGuid():N}";
            Assert.Equal("ok", await AccountAsync("b", user, session, "Start", secret, ""));
            Assert.Equal("ok", await AccountAsync("b", user, session, "Interim-Update", secret, "Acct-Input-Octets = 1000000\nAcct-Output-Octets = 2000000\nAcct-Session-Time = 60\n"));
            Assert.Equal("ok", await AccountAsync("b", user, session, "Stop", secret, "Acct-Input-Octets = 3000000\nAcct-Output-Octets = 4000000\nAcct-Session-Time = 120\n"));
            Assert.Equal(3L, await Sql.ScalarAsync<long>(journal, "SELECT count(*) FROM survival_journal WHERE acct_session_id = $1", session));
            Assert.Equal(0L, await Sql.ScalarAsync<long>(shard, "SELECT count(*) FROM sessions WHERE acct_session_id = $1", session));

            // a comes back (no promotion): b hands the journal to it, in order; the session is closed there with its
            // last counters, charged once, and gone from b's journal.
            await stack.UpAsync();
            await Eventually.TrueAsync(async () => await Sql.ScalarAsync<long>(journal, "SELECT count(*) FROM survival_journal WHERE acct_session_id = $1", session) == 0,
                TimeSpan.FromSeconds(60), "b's journal is handed to a");
            Assert.Equal("closed", await Sql.ScalarAsync<string>(shard, "SELECT state FROM sessions WHERE acct_session_id = $1", session));
            Assert.Equal(3_000_000L, await Sql.ScalarAsync<long>(shard, "SELECT input_octets FROM sessions WHERE acct_session_id = $1", session));
            Assert.Equal(0L, await Sql.ScalarAsync<long>(shard, $"SELECT count(*) FROM ({LedgerCheck.MismatchQuery}) m"));
            Assert.Equal(0L, await Sql.ScalarAsync<long>(shard,
                "SELECT count(*) FROM (SELECT cdr_id FROM ledger_entries WHERE cdr_id IS NOT NULL GROUP BY cdr_id HAVING count(*) > 1) d"));

            // And a serves its own subscribers again.
            Assert.Equal("accept", await LoginAsync("a", other, otherPassword, secret));
        }
        finally
        {
            await stack.UpAsync();
        }
    }

    /// <summary>"accept", "reject" or "silent", as radclient saw it (3 tries of 1 s, as a NAS would).</summary>
    private async Task<string> LoginAsync(string region, string user, string password, string secret)
    {
        var result = await Radclient.SendAsync(stack.RadiusAuth(region), "auth", secret,
            $"User-Name = \"{user}\"\nUser-Password = \"{password}\"\nMessage-Authenticator = 0x00\nPacket-Src-IP-Address = {NasAddress}", timeoutSeconds: 1);
        return result.Output.Contains("Received Access-Accept", StringComparison.Ordinal) ? "accept"
            : result.Output.Contains("Received Access-Reject", StringComparison.Ordinal) ? "reject" : "silent";
    }

    private async Task<string> AccountAsync(string region, string user, string session, string status, string secret, string counters)
    {
        var result = await Radclient.SendAsync(stack.RadiusAcct(region), "acct", secret,
            $"User-Name = \"{user}\"\nAcct-Status-Type = {status}\nAcct-Session-Id = \"{session}\"\n{counters}Packet-Src-IP-Address = {NasAddress}", timeoutSeconds: 1);
        return result.Output.Contains("Received Accounting-Response", StringComparison.Ordinal) ? "ok" : "silent";
    }
}
