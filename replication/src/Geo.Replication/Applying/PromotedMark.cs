using Npgsql;

namespace Geo.Replication.Applying;

/// <summary>
/// The promoted mark of a replica database (<c>replication_progress.promoted_at</c>, migration 0009): once set, the database
/// is its shard's owner and no stream may write into it or make it read-only again.
/// </summary>
internal static class PromotedMark
{
    /// <summary>
    /// When the database was promoted; null when it was not (or its schema predates the mark). With <paramref name="lockShared"/>
    /// the table is locked in SHARE mode until the transaction ends, so a promotion (which locks it exclusively) cannot mark the
    /// database between this read and what the caller does next in the same transaction.
    /// </summary>
    public static async Task<DateTimeOffset?> ReadAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, bool lockShared, CancellationToken cancellationToken)
    {
        await using (var exists = new NpgsqlCommand("""
            SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('public.replication_progress') AND attname = 'promoted_at' AND NOT attisdropped)
            """, connection, transaction))
        {
            if (!(bool)(await exists.ExecuteScalarAsync(cancellationToken))!)
            {
                return null;
            }
        }

        var sql = (lockShared ? "LOCK TABLE public.replication_progress IN SHARE MODE; " : "") + "SELECT max(promoted_at) FROM public.replication_progress";
        await using var read = new NpgsqlCommand(sql, connection, transaction);
        return await read.ExecuteScalarAsync(cancellationToken) is DateTime at ? new DateTimeOffset(at, TimeSpan.Zero) : null;
    }

    /// <summary>The error a stream fails with when it meets a promoted replica.</summary>
    public static ReplicationException Refusal(string database, DateTimeOffset promotedAt, string sourceName) =>
        new($"replica database '{database}' was promoted at {promotedAt:O} and is its shard's owner database now: " +
            $"stream '{sourceName}' refuses to write into it (a replicator that still runs it has not seen the promotion in the directory)");
}
