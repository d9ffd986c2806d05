namespace Geo.Replication.Changes;

/// <summary>Debezium's <c>source</c> block; <see cref="Lsn"/> is the change's WAL position, <see cref="TxId"/> the source transaction id.</summary>
/// <param name="Database">The source database (<c>source.db</c>).</param>
/// <param name="Schema">The table's schema (<c>source.schema</c>).</param>
/// <param name="Table">The table (<c>source.table</c>).</param>
/// <param name="Lsn">The WAL position (<c>source.lsn</c>).</param>
/// <param name="TxId">The source transaction id (<c>source.txId</c>); -1 when unknown.</param>
/// <param name="Timestamp">The source commit time (<c>source.ts_ms</c>).</param>
public sealed record ChangeEventSource(string Database, string Schema, string Table, ulong Lsn, long TxId, DateTimeOffset Timestamp);

/// <summary>
/// One row change as Debezium's envelope, rows aligned with <see cref="ChangeTable.Columns"/>. <see cref="Before"/>: old key
/// of deletes and key changes; <see cref="After"/>: new row, <see cref="ColumnValueKind.Unchanged"/> marking unsent TOASTed values.
/// </summary>
public sealed class ChangeEvent
{
    /// <summary>Creates a change event.</summary>
    public ChangeEvent(ChangeOperation op, ChangeTable table, IReadOnlyList<ColumnValue>? before, IReadOnlyList<ColumnValue>? after, ChangeEventSource source)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(source);
        Op = op;
        Table = table;
        Before = before;
        After = after;
        Source = source;
    }

    /// <summary>The operation (<c>op</c>).</summary>
    public ChangeOperation Op { get; }

    /// <summary>The table the row belongs to.</summary>
    public ChangeTable Table { get; }

    /// <summary>The row before the change (<c>before</c>), when the source sent it.</summary>
    public IReadOnlyList<ColumnValue>? Before { get; }

    /// <summary>The row after the change (<c>after</c>).</summary>
    public IReadOnlyList<ColumnValue>? After { get; }

    /// <summary>Where the change came from (<c>source</c>).</summary>
    public ChangeEventSource Source { get; }

    /// <summary>For truncates: the source truncated with CASCADE.</summary>
    public bool Cascade { get; init; }
}
