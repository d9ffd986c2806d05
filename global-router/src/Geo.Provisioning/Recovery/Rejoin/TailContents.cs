using Geo.Replication.Changes;

namespace Geo.Provisioning.Recovery.Rejoin;

/// <summary>One accounting request the old owner committed in its tail (one of its CDRs), as it is re-sent to the new owner.</summary>
/// <param name="Order">Its place in the old owner's commit order.</param>
/// <param name="CdrId">The old owner's CDR.</param>
/// <param name="SessionId">The old owner's session row.</param>
/// <param name="Kind"><c>start</c>, <c>interim</c> or <c>stop</c>.</param>
/// <param name="EventTime">When the NAS said it happened.</param>
/// <param name="InputOctets">Cumulative input octets reported.</param>
/// <param name="OutputOctets">Cumulative output octets reported.</param>
/// <param name="SessionTime">Cumulative session time reported, in seconds.</param>
/// <param name="SubscriberId">The subscriber the CDR names, if any.</param>
/// <param name="InputPackets">Cumulative input packets (from the session row as that commit left it).</param>
/// <param name="OutputPackets">Cumulative output packets (likewise).</param>
public sealed record TailAccounting(long Order, Guid CdrId, Guid SessionId, string Kind, DateTimeOffset EventTime, long InputOctets, long OutputOctets, long SessionTime,
    Guid? SubscriberId, long? InputPackets, long? OutputPackets);

/// <summary>A top-up or adjustment the old owner committed in its tail: re-applied by its idempotency key.</summary>
public sealed record TailLedgerEntry(Guid Id, Guid SubscriberId, string Kind, long AmountMicros, string IdempotencyKey, string? Reason);

/// <summary>A row of a table the tenant API writes (subscribers, plans, NAS devices, ...), by its key: reconciled newest-wins.</summary>
/// <param name="Table">The table.</param>
/// <param name="KeyJson">Its key columns as a JSON object of their text values.</param>
/// <param name="Key">The key as people read it.</param>
/// <param name="CreatedJson">
/// For a row that later changes follow from (a new subscriber's balance): the row as it was created, a JSON object of text
/// values. That is what is copied, not its final version: the re-applied top-ups and charges make the rest, once.
/// </param>
public sealed record TailRow(string Table, string KeyJson, string Key, string? CreatedJson = null);

/// <summary>
/// The divergent tail sorted by what reconciles it: accounting (re-sent as accounting), ledger entries with idempotency keys
/// (re-applied by key), rows the API writes (newest wins), and what follows from those and is not copied (sessions, balances,
/// quota usage, charges).
/// </summary>
public sealed class TailContents
{
    /// <summary>Tables whose rows the tenant API writes: reconciled row by row.</summary>
    public static readonly IReadOnlySet<string> RowTables = new HashSet<string>(StringComparer.Ordinal) { "subscribers", "plans", "nas_devices", "change_requests" };

    /// <summary>
    /// Tables whose rows follow from accounting and the ledger, never copied: re-applying those makes them again. But for a new
    /// subscriber's balance, copied as it was created (<see cref="TailRow.CreatedJson"/>), which its re-applied top-ups then move.
    /// </summary>
    public static readonly IReadOnlySet<string> DerivedTables = new HashSet<string>(StringComparer.Ordinal) { "sessions", "balances", "quota_buckets" };

    public List<TailAccounting> Accounting { get; } = [];

    public List<TailLedgerEntry> Ledger { get; } = [];

    public List<TailRow> Rows { get; } = [];

    /// <summary>Changes not copied because re-applying accounting and the ledger makes them again, by table.</summary>
    public SortedDictionary<string, long> Derived { get; } = new(StringComparer.Ordinal);

    /// <summary>Changes nothing reconciles (a table no rule covers, a truncate): listed for an operator.</summary>
    public List<string> Unhandled { get; } = [];

    /// <summary>Sessions the old owner closed without a Stop (a NAS restart): not re-applied; listed.</summary>
    public List<Guid> ClosedWithoutStop { get; } = [];

    public int Transactions { get; private set; }

    public long Events { get; private set; }

    public DateTimeOffset? FirstCommit { get; private set; }

    public DateTimeOffset? LastCommit { get; private set; }

    /// <summary>Sorts <paramref name="tail"/> (commit order) into what reconciles it.</summary>
    public static TailContents Classify(IReadOnlyList<ChangeTransaction> tail)
    {
        ArgumentNullException.ThrowIfNull(tail);
        var contents = new TailContents();
        var rows = new HashSet<(string, string)>();
        var packets = new Dictionary<Guid, (long? In, long? Out)>();
        var stopped = new HashSet<Guid>();
        var closed = new List<Guid>();
        long order = 0;
        foreach (var transaction in tail)
        {
            contents.Transactions++;
            contents.FirstCommit ??= transaction.CommitTime;
            contents.LastCommit = transaction.CommitTime;

            // A group commit writes a session's row with its CDRs: the row's packet counters go with them.
            foreach (var change in transaction.Events.Where(e => e.Table.Name == "sessions" && e.After is not null))
            {
                if (Guid.TryParse(Text(change, "id"), out var session))
                {
                    packets[session] = (Long(change, "input_packets"), Long(change, "output_packets"));
                    if (Text(change, "state") == "closed")
                    {
                        closed.Add(session);
                    }
                }
            }

            foreach (var change in transaction.Events)
            {
                contents.Events++;
                var table = change.Table.Name;
                if (change.Op == ChangeOperation.Truncate)
                {
                    contents.Unhandled.Add($"TRUNCATE {table} at {transaction.CommitTime:O}");
                    continue;
                }

                if (table == "cdrs" && change.Op == ChangeOperation.Create)
                {
                    var session = Guid.Parse(Text(change, "session_id")!);
                    var (input, output) = packets.GetValueOrDefault(session);
                    var kind = Text(change, "kind")!;
                    if (kind == "stop")
                    {
                        stopped.Add(session);
                    }

                    contents.Accounting.Add(new TailAccounting(order++, Guid.Parse(Text(change, "id")!), session, kind,
                        DateTimeOffset.Parse(Text(change, "event_time")!, System.Globalization.CultureInfo.InvariantCulture),
                        Long(change, "input_octets") ?? 0, Long(change, "output_octets") ?? 0, Long(change, "session_time_s") ?? 0,
                        Guid.TryParse(Text(change, "subscriber_id"), out var subscriber) ? subscriber : null, input, output));
                }
                else if (table == "ledger_entries" && change.Op == ChangeOperation.Create && Text(change, "kind") is "topup" or "adjustment" && Text(change, "idempotency_key") is { } key)
                {
                    contents.Ledger.Add(new TailLedgerEntry(Guid.Parse(Text(change, "id")!), Guid.Parse(Text(change, "subscriber_id")!), Text(change, "kind")!,
                        Long(change, "amount_micros") ?? 0, key, Text(change, "reason")));
                }
                else if (RowTables.Contains(table) || (table == "balances" && change.Op == ChangeOperation.Create))
                {
                    var (json, text) = KeyOf(change);
                    if (rows.Add((table, json)))
                    {
                        contents.Rows.Add(new TailRow(table, json, text, table == "balances" ? ImageOf(change) : null));
                    }
                }
                else if (DerivedTables.Contains(table) || table is "ledger_entries" or "cdrs")
                {
                    // Sessions, balances and bucket usage, charges: made again by re-applying the accounting and the ledger.
                    contents.Derived[table] = contents.Derived.GetValueOrDefault(table) + 1;
                }
                else
                {
                    contents.Unhandled.Add($"{change.Op} on {table} at {transaction.CommitTime:O}");
                }
            }
        }

        contents.ClosedWithoutStop.AddRange(closed.Where(s => !stopped.Contains(s)).Distinct());
        return contents;
    }

    /// <summary>A row's key as a JSON object of text values, and as people read it.</summary>
    private static (string Json, string Text) KeyOf(ChangeEvent change)
    {
        var row = change.After ?? change.Before ?? throw new InvalidOperationException($"a {change.Op} on {change.Table} without a row");
        var key = change.Table.KeyColumns.Count > 0 ? change.Table.KeyColumns : [.. Enumerable.Range(0, change.Table.Columns.Count)];
        var values = new SortedDictionary<string, string?>(StringComparer.Ordinal);
        foreach (var index in key)
        {
            values[change.Table.Columns[index]] = row[index].Text;
        }

        return (System.Text.Json.JsonSerializer.Serialize(values), string.Join(", ", values.Select(v => $"{v.Key}={v.Value}")));
    }

    /// <summary>A row image as a JSON object of its columns' text values (null for SQL NULL), as <c>jsonb_populate_record</c> reads it.</summary>
    private static string ImageOf(ChangeEvent change)
    {
        var values = new SortedDictionary<string, string?>(StringComparer.Ordinal);
        for (var i = 0; i < change.Table.Columns.Count; i++)
        {
            if (change.After![i].Kind != ColumnValueKind.Unchanged)
            {
                values[change.Table.Columns[i]] = change.After[i].Text;
            }
        }

        return System.Text.Json.JsonSerializer.Serialize(values);
    }

    private static string? Text(ChangeEvent change, string column)
    {
        var index = change.Table.IndexOf(column);
        return index < 0 || change.After is not { } row ? null : row[index].Text;
    }

    private static long? Long(ChangeEvent change, string column) =>
        long.TryParse(Text(change, column), System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var value) ? value : null;
}
