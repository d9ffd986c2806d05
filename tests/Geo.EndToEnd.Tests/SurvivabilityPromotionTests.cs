using Geo.Ctl;
using Geo.Engines.Postgres;
using Geo.Engines;
using Geo.Testing;
using Xunit.Abstractions;

namespace Geo.EndToEnd.Tests;

/// <summary>
/// Region a's PostgreSQL is lost while its node lives on: the node answers nothing for acme@a (it cannot read or commit),
/// so region b, the NAS's backup endpoint, answers from its replica and journals the accounting. Then acme@a is promoted
/// to b: the journal is committed into the promoted shard before it leaves b's journal, charged once.
/// </summary>
public sealed class SurvivabilityPromotionTests(TwoRegions stack, ITestOutputHelper log) : IClassFixture<TwoRegions>
{
    private const string NasAddress = "127.0.10.1";

    [Fact]
    public async Task RegionADatabaseKilled_BAnswersFromReplicaAndJournal_PromotionCommitsTheJournalAtB()
    {
        var journal = stack.JournalConnectionString("b");
        var replica = await stack.SeededReplicaAsync("acme", "a", "b");
        var secret = stack.NasSecret("acme-bng-a");
        var (user, password) = stack.Subscriber("acme", "a", 29);

        ProcessTree.Kill(PostgresCluster.Open(stack.Layout.RegionPostgres("a"))!.ServerPid!.Value);

        // a's node lives but cannot answer for acme@a; b answers from its replica and journals the accounting.
        Assert.Equal("accept", await Nas.LoginAsync(stack.RadiusAuth("b"), user, password, secret, NasAddress));
        var session = $"survive-{Guid.NewGuid():N}";
        Assert.Equal("ok", await Nas.AccountAsync(stack.RadiusAcct("b"), user, session, "Start", secret, NasAddress));
        Assert.Equal("ok", await Nas.AccountAsync(stack.RadiusAcct("b"), user, session, "Interim-Update", secret, NasAddress,
            "Acct-Input-Octets = 5000000\nAcct-Output-Octets = 6000000\nAcct-Session-Time = 60\n"));
        Assert.Equal(2L, await Billing.JournaledAsync(journal, session));

        // Promoted to b: the journal goes into the promoted shard, then leaves the journal.
        var output = new StringWriter();
        var code = await GeoCtlCommand.Create(output, output).Parse(["dr", "promote", "acme@a", "--to", "b", "--state-dir", stack.StateDir]).InvokeAsync();
        log.WriteLine(output.ToString());
        Assert.Equal(0, code);
        await Eventually.TrueAsync(async () => await Billing.JournaledAsync(journal, session) == 0,
            TimeSpan.FromSeconds(60), "b's journal is committed into the promoted shard");
        Assert.Equal(5_000_000L, await Sql.ScalarAsync<long>(replica, "SELECT input_octets FROM sessions WHERE acct_session_id = $1 AND state = 'open'", session));

        // The session goes on at b, its owner now, and closes there; billing holds.
        Assert.Equal("ok", await Nas.AccountAsync(stack.RadiusAcct("b"), user, session, "Stop", secret, NasAddress,
            "Acct-Input-Octets = 7000000\nAcct-Output-Octets = 8000000\nAcct-Session-Time = 120\n"));
        Assert.Equal("closed", await Sql.ScalarAsync<string>(replica, "SELECT state FROM sessions WHERE acct_session_id = $1", session));
        await Billing.AssertHoldsAsync(replica);
    }
}
