using Geo.Ctl.LocalStack;
using Geo.Ctl.Tenants;
using Geo.Directory.Shards;
using Npgsql;

namespace Geo.Ctl.Billing;

/// <summary>
/// <c>geoctl check-ledger</c>: proves, for every shard in the directory and in its owner's database (the promoted
/// standby's after a failover), that every balance equals the sum of its ledger entries. Exit 0 when all hold, 1 otherwise.
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

    /// <summary>Checks every shard (or <paramref name="tenant"/>'s) of the local stack or the deployment of <paramref name="layout"/>.</summary>
    public static async Task<int> RunAsync(StackLayout layout, string? tenant, Reporter reporter, CancellationToken cancellationToken)
    {
        // Every shard the directory knows, in its owner's database: after a promotion that is the standby region's.
        await using var platform = await Platform.OpenAsync(layout, cancellationToken, requireRegions: false);
        var shards = (await platform.Directory.LoadAsync(cancellationToken)).Shards
            .Where(s => s.State is ShardState.Active or ShardState.Promoting)
            .Where(s => tenant is null || s.Key.TenantId == tenant)
            .OrderBy(s => s.Key.TenantId, StringComparer.Ordinal).ThenBy(s => s.Key.HomeRegion, StringComparer.Ordinal)
            .ToList();
        var failures = 0;
        foreach (var shard in shards)
        {
            var database = shard.OwnerRegion == shard.Key.HomeRegion ? shard.DatabaseName : $"{shard.DatabaseName} (in region {shard.OwnerRegion})";
            try
            {
                failures += await CheckShardAsync(platform.Databases.Database(shard.OwnerRegion, shard.DatabaseName), database, reporter, cancellationToken);
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or KeyNotFoundException or InvalidOperationException)
            {
                // A shard that cannot be read is not proven: its owner region is down (promote it), unreachable, or unknown here.
                failures++;
                reporter.Line($"  FAIL {database}: cannot be read in its owner region {shard.OwnerRegion} ({ex.Message})");
            }
        }

        if (shards.Count == 0)
        {
            reporter.Line($"  FAIL the directory lists no active shard{(tenant is null ? "" : $" of tenant {tenant}")}: nothing was checked");
            return 1;
        }

        return failures == 0 ? 0 : 1;
    }

    /// <summary>Checks one shard's database; returns how many balances differ from their ledger.</summary>
    private static async Task<int> CheckShardAsync(string connectionString, string database, Reporter reporter, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
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
            return 0;
        }

        reporter.Line($"  FAIL {database}: {mismatches.Count} balances differ from their ledger ({summary})");
        foreach (var mismatch in mismatches.Take(20))
        {
            reporter.Line($"       {mismatch}");
        }

        return mismatches.Count;
    }
}
