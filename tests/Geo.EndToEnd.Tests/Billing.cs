using Geo.Ctl.Billing;
using Geo.Testing;

namespace Geo.EndToEnd.Tests;

/// <summary>Assertions on a shard's books and on a region's survivability journal.</summary>
internal static class Billing
{
    /// <summary>Every balance is the sum of its ledger, and no CDR is charged twice.</summary>
    public static async Task AssertHoldsAsync(string shard)
    {
        Assert.Equal(0L, await Sql.ScalarAsync<long>(shard, $"SELECT count(*) FROM ({LedgerCheck.MismatchQuery}) m"));
        Assert.Equal(0L, await Sql.ScalarAsync<long>(shard,
            "SELECT count(*) FROM (SELECT cdr_id FROM ledger_entries WHERE cdr_id IS NOT NULL GROUP BY cdr_id HAVING count(*) > 1) d"));
    }

    /// <summary>How many requests of a session a region's journal holds.</summary>
    public static Task<long> JournaledAsync(string journal, string session) =>
        Sql.ScalarAsync<long>(journal, "SELECT count(*) FROM survival_journal WHERE acct_session_id = $1", session);
}
