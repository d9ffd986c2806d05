using System.Globalization;
using Geo.Replication.Applying;
using Geo.Replication.PgOutput;
using Npgsql;

namespace Geo.Replication.Verification;

/// <summary>One table compared on both sides.</summary>
/// <param name="Table">The table, <c>schema.name</c>.</param>
/// <param name="SourceRows">Rows at the source.</param>
/// <param name="ReplicaRows">Rows on the replica (-1 when the table is missing there).</param>
/// <param name="SourceChecksum">Order-independent checksum of the source rows.</param>
/// <param name="ReplicaChecksum">The same over the replica rows.</param>
/// <param name="DifferingKeys">Some primary keys whose rows differ (<c>missing:</c>, <c>extra:</c> or <c>changed:</c>), when the table differs.</param>
public sealed record TableComparison(string Table, long SourceRows, long ReplicaRows, string SourceChecksum, string ReplicaChecksum, IReadOnlyList<string> DifferingKeys)
{
    /// <summary>Same row count and checksum.</summary>
    public bool Equal => SourceRows == ReplicaRows && string.Equals(SourceChecksum, ReplicaChecksum, StringComparison.Ordinal);
}

/// <summary>What <see cref="ShardVerifier"/> found.</summary>
/// <param name="SourceDatabase">The source database.</param>
/// <param name="ReplicaDatabase">The replica database.</param>
/// <param name="CaughtUp">True when the replica reached the source's position before comparing (a common position).</param>
/// <param name="Attempts">How many comparisons ran (a moving source may need several).</param>
/// <param name="Tables">Every replicated table, compared.</param>
public sealed record VerificationReport(string SourceDatabase, string ReplicaDatabase, bool CaughtUp, int Attempts, IReadOnlyList<TableComparison> Tables)
{
    /// <summary>True when the replica caught up and every table matches.</summary>
    public bool Consistent => CaughtUp && Tables.All(t => t.Equal);

    /// <summary>The tables that differ.</summary>
    public IEnumerable<TableComparison> Differences => Tables.Where(t => !t.Equal);
}

/// <summary>
/// Compares source and replica per table at a common position (<see cref="ReplicationBarrier"/>): row count and an
/// order-independent checksum, each side in one REPEATABLE READ snapshot. A moving source can cause mismatches, so they
/// are re-checked after a new marker (up to <c>attempts</c>).
/// </summary>
public static class ShardVerifier
{
    private const int MaxKeysListed = 20;
    private const long MaxRowsForKeyDiff = 2_000_000;

    /// <summary>Verifies <paramref name="replicaConnectionString"/> against <paramref name="sourceConnectionString"/>.</summary>
    public static async Task<VerificationReport> VerifyAsync(string sourceConnectionString, string replicaConnectionString, TimeSpan catchUpTimeout, int attempts = 3, CancellationToken cancellationToken = default)
    {
        var sourceDatabase = new NpgsqlConnectionStringBuilder(sourceConnectionString).Database ?? "";
        var replicaDatabase = new NpgsqlConnectionStringBuilder(replicaConnectionString).Database ?? "";
        List<TableComparison> tables = [];
        var caughtUp = false;
        var attempt = 0;
        while (attempt < Math.Max(1, attempts))
        {
            attempt++;
            caughtUp = await ReplicationBarrier.WaitForReplicaAsync(sourceConnectionString, replicaConnectionString, catchUpTimeout, cancellationToken: cancellationToken);
            tables = await CompareAsync(sourceConnectionString, replicaConnectionString, withKeys: false, cancellationToken);
            if (tables.All(t => t.Equal) || !caughtUp)
            {
                break;
            }
        }

        if (tables.Any(t => !t.Equal))
        {
            tables = await CompareAsync(sourceConnectionString, replicaConnectionString, withKeys: true, cancellationToken);
        }

        return new VerificationReport(sourceDatabase, replicaDatabase, caughtUp, attempt, tables);
    }

    /// <summary>
    /// Takes a snapshot of both databases now, to compare later (<see cref="SnapshotPair.CompareAsync"/>): for two databases known
    /// to hold the same at this moment and to take writes afterwards (a switchover's switch point), the comparison is of this
    /// moment, however long it takes and whatever is written meanwhile. Keep the pair short-lived: its snapshots hold back vacuum.
    /// </summary>
    public static async Task<SnapshotPair> SnapshotAsync(string sourceConnectionString, string replicaConnectionString, CancellationToken cancellationToken = default)
    {
        var source = await OpenSnapshotAsync(sourceConnectionString, cancellationToken);
        try
        {
            return new SnapshotPair(source, await OpenSnapshotAsync(replicaConnectionString, cancellationToken));
        }
        catch
        {
            await source.DisposeAsync();
            throw;
        }
    }

    /// <summary>Snapshots of a source and a replica taken at one moment (<see cref="SnapshotAsync"/>).</summary>
    public sealed class SnapshotPair : IAsyncDisposable
    {
        private readonly Snapshot _source;
        private readonly Snapshot _replica;

        internal SnapshotPair(Snapshot source, Snapshot replica) => (_source, _replica) = (source, replica);

        /// <summary>Compares the two snapshots table by table; the differing keys are listed when they differ.</summary>
        public async Task<VerificationReport> CompareAsync(CancellationToken cancellationToken = default)
        {
            var tables = await CompareSnapshotsAsync(_source, _replica, withKeys: false, cancellationToken);
            if (tables.Any(t => !t.Equal))
            {
                tables = await CompareSnapshotsAsync(_source, _replica, withKeys: true, cancellationToken);
            }

            return new VerificationReport(_source.Connection.Database, _replica.Connection.Database, true, 1, tables);
        }

        public async ValueTask DisposeAsync()
        {
            await _source.DisposeAsync();
            await _replica.DisposeAsync();
        }
    }

    private static async Task<List<TableComparison>> CompareAsync(string sourceConnectionString, string replicaConnectionString, bool withKeys, CancellationToken cancellationToken)
    {
        await using var source = await OpenSnapshotAsync(sourceConnectionString, cancellationToken);
        await using var replica = await OpenSnapshotAsync(replicaConnectionString, cancellationToken);
        return await CompareSnapshotsAsync(source, replica, withKeys, cancellationToken);
    }

    private static async Task<List<TableComparison>> CompareSnapshotsAsync(Snapshot source, Snapshot replica, bool withKeys, CancellationToken cancellationToken)
    {
        var results = new List<TableComparison>();
        foreach (var table in await ReplicatedTables.ListAsync(source.Connection, source.Transaction, cancellationToken))
        {
            var shape = (await ReplicaTable.LoadAsync(source.Connection, source.Transaction, table.Schema, table.Name, cancellationToken))!;
            var rowText = RowText(shape.Columns.Select(c => c.Name));
            var (sourceRows, sourceSum) = await ChecksumAsync(source, table, rowText, cancellationToken);
            var replicaShape = await ReplicaTable.LoadAsync(replica.Connection, replica.Transaction, table.Schema, table.Name, cancellationToken);
            if (replicaShape is null)
            {
                results.Add(new TableComparison(table.ToString(), sourceRows, -1, sourceSum, "", ["table missing on the replica"]));
                continue;
            }

            var (replicaRows, replicaSum) = await ChecksumAsync(replica, table, rowText, cancellationToken);
            IReadOnlyList<string> keys = [];
            var equal = sourceRows == replicaRows && string.Equals(sourceSum, replicaSum, StringComparison.Ordinal);
            if (!equal && withKeys && shape.PrimaryKey.Count > 0 && Math.Max(sourceRows, replicaRows) <= MaxRowsForKeyDiff)
            {
                keys = await DifferingKeysAsync(source, replica, table, KeyText(shape.PrimaryKey), rowText, cancellationToken);
            }

            results.Add(new TableComparison(table.ToString(), sourceRows, replicaRows, sourceSum, replicaSum, keys));
        }

        return results;
    }

    /// <summary>A row's text with columns in name order, so column order differences between the two databases do not matter.</summary>
    private static string RowText(IEnumerable<string> columns)
    {
        var ordered = columns.Order(StringComparer.Ordinal).Select(SqlIdentifier.Quote).ToList();
        return ordered.Count == 1 ? $"ROW({ordered[0]}, NULL)::text" : $"ROW({string.Join(", ", ordered)})::text";
    }

    private static string KeyText(List<string> key) =>
        key.Count == 1 ? $"({SqlIdentifier.Quote(key[0])})::text" : $"ROW({string.Join(", ", key.Select(SqlIdentifier.Quote))})::text";

    private static async Task<(long Rows, string Checksum)> ChecksumAsync(Snapshot side, TableName table, string rowText, CancellationToken cancellationToken)
    {
        // Identifiers come from the catalog, quoted.
        await using var command = new NpgsqlCommand(
            $"SELECT count(*), coalesce(sum(('x' || substr(md5({rowText}), 1, 16))::bit(64)::bigint), 0)::text FROM {table.Quoted}",
            side.Connection, side.Transaction);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.GetInt64(0), reader.GetString(1));
    }

    private static async Task<IReadOnlyList<string>> DifferingKeysAsync(Snapshot source, Snapshot replica, TableName table, string keyText, string rowText, CancellationToken cancellationToken)
    {
        var replicaRows = new Dictionary<string, string>(StringComparer.Ordinal);
        await foreach (var (key, hash) in RowHashesAsync(replica, table, keyText, rowText, cancellationToken))
        {
            replicaRows[key] = hash;
        }

        var differing = new List<string>();
        await foreach (var (key, hash) in RowHashesAsync(source, table, keyText, rowText, cancellationToken))
        {
            if (!replicaRows.Remove(key, out var replicaHash))
            {
                Add(differing, "missing: " + key);
            }
            else if (!string.Equals(hash, replicaHash, StringComparison.Ordinal))
            {
                Add(differing, "changed: " + key);
            }
        }

        foreach (var key in replicaRows.Keys)
        {
            Add(differing, "extra: " + key);
        }

        return differing;

        static void Add(List<string> list, string item)
        {
            if (list.Count < MaxKeysListed)
            {
                list.Add(item);
            }
        }
    }

    private static async IAsyncEnumerable<(string Key, string Hash)> RowHashesAsync(Snapshot side, TableName table, string keyText, string rowText, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand($"SELECT {keyText}, md5({rowText}) FROM {table.Quoted}", side.Connection, side.Transaction);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return (reader.GetString(0), reader.GetString(1));
        }
    }

    private static async Task<Snapshot> OpenSnapshotAsync(string connectionString, CancellationToken cancellationToken)
    {
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, CommandTimeout = 0 }.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);

        // Row text must not depend on either server's settings. The first query takes the snapshot: now, not at the first table.
        await using var settings = new NpgsqlCommand(
            "SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, YMD'; SET LOCAL IntervalStyle = 'postgres'; SET LOCAL extra_float_digits = 1; SET LOCAL bytea_output = 'hex'; SELECT 1",
            connection, transaction);
        await settings.ExecuteNonQueryAsync(cancellationToken);
        return new Snapshot(connection, transaction);
    }

    internal sealed class Snapshot(NpgsqlConnection connection, NpgsqlTransaction transaction) : IAsyncDisposable
    {
        public NpgsqlConnection Connection { get; } = connection;

        public NpgsqlTransaction Transaction { get; } = transaction;

        public async ValueTask DisposeAsync()
        {
            await Transaction.DisposeAsync();
            await Connection.DisposeAsync();
        }
    }
}

/// <summary>Renders a <see cref="VerificationReport"/> for an operator.</summary>
public static class VerificationReportText
{
    /// <summary>One line per table, then a verdict.</summary>
    public static string Render(VerificationReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var text = new System.Text.StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"verify {report.SourceDatabase} (source) against {report.ReplicaDatabase} (replica)");
        text.Append(report.CaughtUp ? ", replica caught up" : ", replica did NOT catch up in time (comparison is not at a common position)");
        text.Append('\n');
        foreach (var table in report.Tables)
        {
            text.Append(CultureInfo.InvariantCulture, $"  {(table.Equal ? "ok  " : "DIFF")} {table.Table,-32} rows {table.SourceRows,10} / {table.ReplicaRows,10}\n");
            foreach (var key in table.DifferingKeys)
            {
                text.Append("         ").Append(key).Append('\n');
            }
        }

        text.Append(report.Consistent ? "consistent\n" : $"NOT consistent: {report.Differences.Count()} table(s) differ\n");
        return text.ToString();
    }
}
