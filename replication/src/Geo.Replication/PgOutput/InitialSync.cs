using System.Diagnostics;
using Geo.Replication.Applying;
using Geo.Replication.Changes;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Geo.Replication.PgOutput;

/// <summary>
/// Seeds a replica from the slot's exported snapshot: binary COPY of every table and the stored position in one replica
/// transaction, so streaming starts exactly there; a crash before commit leaves the replica unseeded.
/// </summary>
internal static partial class InitialSync
{
    public static async Task<(int Tables, long Rows)> RunAsync(SourceSnapshot snapshot, ReplicaApplier applier, ILogger logger, CancellationToken cancellationToken)
    {
        if (!PgOutputSource.IsSnapshotName(snapshot.SnapshotName))
        {
            throw new ReplicationException($"unexpected snapshot name '{snapshot.SnapshotName}'");
        }

        var stopwatch = Stopwatch.StartNew();
        await using var source = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(snapshot.ConnectionString) { Pooling = false, CommandTimeout = 0 }.ConnectionString);
        await source.OpenAsync(cancellationToken);
        await using var sourceTransaction = await source.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);

        // SET TRANSACTION SNAPSHOT takes no parameters; the name was validated above.
        await using (var use = new NpgsqlCommand($"SET TRANSACTION SNAPSHOT '{snapshot.SnapshotName}'", source, sourceTransaction))
        {
            await use.ExecuteNonQueryAsync(cancellationToken);
        }

        var tables = await ReplicatedTables.ListAsync(source, sourceTransaction, cancellationToken);
        var replica = applier.Connection;
        await using var replicaTransaction = await replica.BeginTransactionAsync(cancellationToken);
        if (tables.Count > 0)
        {
            await using var truncate = new NpgsqlCommand($"TRUNCATE ONLY {string.Join(", ", tables.Select(t => t.Quoted))}", replica, replicaTransaction);
            await truncate.ExecuteNonQueryAsync(cancellationToken);
        }

        long rows = 0;
        foreach (var table in tables)
        {
            var columns = await ColumnListAsync(source, sourceTransaction, table, cancellationToken);
            var copied = await CopyTableAsync(source, replica, table, columns, cancellationToken);
            rows += copied;
            LogTableCopied(logger, table, copied);
        }

        await using (var progress = new NpgsqlBatch(replica, replicaTransaction))
        {
            progress.BatchCommands.Add(applier.ProgressCommand(snapshot.Position, null, appliedTransactions: 0, heard: null));
            await progress.ExecuteNonQueryAsync(cancellationToken);
        }

        await replicaTransaction.CommitAsync(cancellationToken);
        await sourceTransaction.CommitAsync(cancellationToken);
        applier.SetStored(new StoredPosition(snapshot.Position.Token, snapshot.Position.Lsn, null));
        LogSynced(logger, replica.Database, tables.Count, rows, snapshot.Position.Token, stopwatch.ElapsedMilliseconds);
        return (tables.Count, rows);
    }

    private static async Task<string> ColumnListAsync(NpgsqlConnection source, NpgsqlTransaction transaction, TableName table, CancellationToken cancellationToken)
    {
        var shape = await ReplicaTable.LoadAsync(source, transaction, table.Schema, table.Name, cancellationToken)
            ?? throw new ReplicationException($"table {table} vanished during the initial sync");
        return string.Join(", ", shape.Columns.Select(c => SqlIdentifier.Quote(c.Name)));
    }

    private static async Task<long> CopyTableAsync(NpgsqlConnection source, NpgsqlConnection replica, TableName table, string columns, CancellationToken cancellationToken)
    {
        // Binary COPY between two PostgreSQL 15 servers with the same schema: no per-value parsing on either side.
        await using (var reader = await source.BeginRawBinaryCopyAsync($"COPY {table.Quoted} ({columns}) TO STDOUT (FORMAT BINARY)", cancellationToken))
        await using (var writer = await replica.BeginRawBinaryCopyAsync($"COPY {table.Quoted} ({columns}) FROM STDIN (FORMAT BINARY)", cancellationToken))
        {
            await reader.CopyToAsync(writer, cancellationToken);
        }

        await using var count = new NpgsqlCommand($"SELECT count(*) FROM {table.Quoted}", replica);
        return (long)(await count.ExecuteScalarAsync(cancellationToken))!;
    }

    [LoggerMessage(EventId = 4201, Level = LogLevel.Debug, Message = "Initial sync: copied {Table} ({Rows} rows)")]
    private static partial void LogTableCopied(ILogger logger, TableName table, long rows);

    [LoggerMessage(EventId = 4202, Level = LogLevel.Information, Message = "Initial sync of {Database}: {Tables} tables, {Rows} rows at {Position} in {ElapsedMs} ms")]
    private static partial void LogSynced(ILogger logger, string database, int tables, long rows, string position, long elapsedMs);
}
