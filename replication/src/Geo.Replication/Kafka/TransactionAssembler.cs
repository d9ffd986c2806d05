using System.Globalization;
using System.Text.Json;
using Geo.Replication.Changes;

namespace Geo.Replication.Kafka;

/// <summary>A replicated table as the Kafka path sees it: its description and the replica type of each column.</summary>
internal sealed record TableShape(ChangeTable Table, IReadOnlyList<string> Types);

/// <summary>
/// Rebuilds source transactions from Debezium topics: one is emitted once its <c>END</c> and all its events arrived, ordered
/// by <c>total_order</c>; snapshot events (<c>op = r</c>) go alone. Each partition's stored offset is its first unemitted
/// message, so a restart re-reads exactly what was not applied.
/// </summary>
internal sealed class TransactionAssembler
{
    private readonly Dictionary<(string Schema, string Table), TableShape> _tables;
    private readonly string _transactionTopic;
    private readonly string _placeholder;
    private readonly Dictionary<string, long> _seenNext;
    private readonly Dictionary<string, Queue<Slot>> _partitions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Pending> _pending = new(StringComparer.Ordinal);
    private readonly Queue<(string Id, int EventCount, Slot Slot, DateTimeOffset? Time)> _ends = new();

    /// <summary>Transactions emitted lately: their repeated events and END (a producer retry, a connector re-send) are dropped.</summary>
    private readonly HashSet<string> _emitted = new(StringComparer.Ordinal);
    private readonly Queue<string> _emittedOrder = new();
    private const int RememberedTransactions = 100_000;
    private ulong _lastCommitKey;

    public TransactionAssembler(IEnumerable<TableShape> tables, string transactionTopic, string placeholder, KafkaPosition start)
    {
        ArgumentNullException.ThrowIfNull(start);
        _tables = tables.ToDictionary(t => (t.Table.Schema, t.Table.Name));
        _transactionTopic = transactionTopic;
        _placeholder = placeholder;
        _seenNext = new Dictionary<string, long>(start.NextOffsets, StringComparer.Ordinal);
        _lastCommitKey = start.Lsn;
    }

    /// <summary>Messages buffered because their transaction is not complete yet.</summary>
    public int Buffered => _partitions.Values.Sum(q => q.Count);

    /// <summary>Takes one Kafka message (value null for a tombstone) and appends every transaction it completes to <paramref name="completed"/>.</summary>
    public void Add(string topic, int partition, long offset, ReadOnlySpan<byte> value, bool isNull, List<ChangeTransaction> completed)
    {
        ArgumentNullException.ThrowIfNull(completed);
        var key = KafkaPosition.Key(topic, partition);
        if (_seenNext.TryGetValue(key, out var next) && offset < next)
        {
            // Already covered by the stored position (a consumer that resumed before it).
            return;
        }

        _seenNext[key] = offset + 1;
        var slot = new Slot(key, offset);
        Enqueue(slot);

        if (isNull)
        {
            slot.Done = true; // the tombstone after a delete: nothing to apply
        }
        else if (string.Equals(topic, _transactionTopic, StringComparison.Ordinal))
        {
            AddTransactionEvent(value, slot);
        }
        else
        {
            AddDataEvent(topic, value, slot);
        }

        Emit(completed);
    }

    private void Enqueue(Slot slot)
    {
        if (!_partitions.TryGetValue(slot.Partition, out var queue))
        {
            queue = new Queue<Slot>();
            _partitions[slot.Partition] = queue;
        }

        queue.Enqueue(slot);
    }

    private void AddTransactionEvent(ReadOnlySpan<byte> value, Slot slot)
    {
        using var document = ParseJson(value);
        var payload = Payload(document.RootElement);
        var status = payload.GetProperty("status").GetString();
        var id = payload.GetProperty("id").GetString() ?? throw new ReplicationException("transaction event without id");
        if (string.Equals(status, "BEGIN", StringComparison.Ordinal))
        {
            slot.Done = true;
            return;
        }

        if (!string.Equals(status, "END", StringComparison.Ordinal))
        {
            throw new ReplicationException($"transaction event with status '{status}'");
        }

        if (_emitted.Contains(id))
        {
            slot.Done = true;
            return;
        }

        var count = payload.TryGetProperty("event_count", out var c) && c.ValueKind == JsonValueKind.Number ? c.GetInt32() : 0;
        DateTimeOffset? time = payload.TryGetProperty("ts_ms", out var ts) && ts.ValueKind == JsonValueKind.Number
            ? DateTimeOffset.FromUnixTimeMilliseconds(ts.GetInt64())
            : null;
        _ends.Enqueue((id, count, slot, time));
    }

    private void AddDataEvent(string topic, ReadOnlySpan<byte> value, Slot slot)
    {
        using var document = ParseJson(value);
        var root = document.RootElement;
        var payload = Payload(root);
        if (!ChangeOperationCodes.TryParse(payload.TryGetProperty("op", out var op) ? op.GetString() : null, out var operation))
        {
            slot.Done = true; // a message event (op = m) or something this applier does not handle
            return;
        }

        var source = payload.GetProperty("source");
        var schema = source.TryGetProperty("schema", out var s) ? s.GetString()! : "public";
        var tableName = source.TryGetProperty("table", out var t) ? t.GetString()! : topic[(topic.LastIndexOf('.') + 1)..];
        if (!_tables.TryGetValue((schema, tableName), out var shape))
        {
            throw new ReplicationException($"topic {topic}: table {schema}.{tableName} is not a replicated table of the replica");
        }

        var semantics = FieldSemantics(root);
        var before = Row(payload, "before", shape, semantics, missingIsUnchanged: false);
        var after = Row(payload, "after", shape, semantics, missingIsUnchanged: true);
        var txId = source.TryGetProperty("txId", out var x) && x.ValueKind == JsonValueKind.Number ? x.GetInt64() : -1;
        var lsn = source.TryGetProperty("lsn", out var l) && l.ValueKind == JsonValueKind.Number ? l.GetUInt64() : 0;
        var time = source.TryGetProperty("ts_ms", out var ms) && ms.ValueKind == JsonValueKind.Number
            ? DateTimeOffset.FromUnixTimeMilliseconds(ms.GetInt64())
            : DateTimeOffset.UnixEpoch;
        var database = source.TryGetProperty("db", out var db) ? db.GetString() ?? "" : "";
        var change = new ChangeEvent(operation, shape.Table, before, after, new ChangeEventSource(database, schema, tableName, lsn, txId, time));

        slot.Event = change;
        slot.CommitKey = CommitKey(source);
        if (payload.TryGetProperty("transaction", out var transaction) && transaction.ValueKind == JsonValueKind.Object)
        {
            var id = transaction.GetProperty("id").GetString() ?? throw new ReplicationException("transaction block without id");
            if (_emitted.Contains(id))
            {
                slot.Done = true;
                slot.Event = null;
                return;
            }

            slot.TransactionId = id;
            slot.TotalOrder = transaction.TryGetProperty("total_order", out var order) ? ReadLong(order) : 0;
            if (!_pending.TryGetValue(id, out var pending))
            {
                pending = new Pending();
                _pending[id] = pending;
            }

            if (!pending.Orders.Add(slot.TotalOrder))
            {
                // The same event twice (a producer retry without idempotence): keep the first.
                slot.Done = true;
                slot.Event = null;
                return;
            }

            pending.Slots.Add(slot);
        }
    }

    private void Emit(List<ChangeTransaction> completed)
    {
        var progress = true;
        while (progress)
        {
            progress = false;

            // Events without transaction metadata go out as soon as everything before them in their partition has.
            foreach (var queue in _partitions.Values)
            {
                while (queue.TryPeek(out var head) && (head.Done || (head.TransactionId is null && head.Event is not null)))
                {
                    queue.Dequeue();
                    if (!head.Done && head.Event is not null)
                    {
                        head.Done = true;
                        completed.Add(Transaction($"{head.Event.Source.TxId}:{head.Offset}", head.Event.Source.TxId, [head], head.Event.Source.Timestamp, head.CommitKey));
                        progress = true;
                    }
                }
            }

            if (_ends.TryPeek(out var end))
            {
                var slots = _pending.TryGetValue(end.Id, out var pending) ? pending.Slots : [];
                if (slots.Count >= end.EventCount)
                {
                    _ends.Dequeue();
                    _pending.Remove(end.Id);
                    slots.Sort((a, b) => a.TotalOrder.CompareTo(b.TotalOrder));
                    foreach (var slot in slots)
                    {
                        slot.Done = true;
                    }

                    end.Slot.Done = true;
                    var txId = slots.Count > 0 ? slots[0].Event!.Source.TxId : -1;
                    var time = end.Time ?? (slots.Count > 0 ? slots.Max(s => s.Event!.Source.Timestamp) : DateTimeOffset.UnixEpoch);
                    var commitKey = slots.Count > 0 ? slots.Max(s => s.CommitKey) : 0;
                    DropDoneHeads();
                    Remember(end.Id);
                    completed.Add(Transaction(end.Id, txId, slots, time, commitKey));
                    progress = true;
                }
            }
        }
    }

    private void Remember(string id)
    {
        if (_emitted.Add(id))
        {
            _emittedOrder.Enqueue(id);
            if (_emittedOrder.Count > RememberedTransactions)
            {
                _emitted.Remove(_emittedOrder.Dequeue());
            }
        }
    }

    private void DropDoneHeads()
    {
        foreach (var queue in _partitions.Values)
        {
            while (queue.TryPeek(out var head) && head.Done)
            {
                queue.Dequeue();
            }
        }
    }

    private ChangeTransaction Transaction(string id, long txId, List<Slot> slots, DateTimeOffset time, ulong commitKey)
    {
        DropDoneHeads();
        _lastCommitKey = Math.Max(_lastCommitKey, commitKey);
        var offsets = new Dictionary<string, long>(_seenNext, StringComparer.Ordinal);
        foreach (var (partition, queue) in _partitions)
        {
            if (queue.TryPeek(out var head))
            {
                offsets[partition] = head.Offset;
            }
        }

        // The stored order key only grows; the transaction's own key (0: unknown, never skipped) decides whether a
        // replica that already holds it skips it.
        var token = new KafkaPosition(_lastCommitKey, offsets).ToToken();
        return new ChangeTransaction(id, txId, new SourcePosition(commitKey, token), time, slots.Select(s => s.Event!).ToArray());
    }

    /// <summary>
    /// Debezium's <c>source.sequence</c> is <c>["last commit LSN", "event LSN"]</c>: the first element is the same for every
    /// event of a transaction and grows from one transaction to the next, so it orders transactions (and finds a
    /// connector's re-sent duplicates). 0 when the connector does not send it.
    /// </summary>
    private static ulong CommitKey(JsonElement source)
    {
        if (!source.TryGetProperty("sequence", out var sequence) || sequence.ValueKind != JsonValueKind.String)
        {
            return 0;
        }

        using var inner = JsonDocument.Parse(sequence.GetString()!);
        if (inner.RootElement.ValueKind != JsonValueKind.Array || inner.RootElement.GetArrayLength() == 0)
        {
            return 0;
        }

        var first = inner.RootElement[0];
        return first.ValueKind == JsonValueKind.String && ulong.TryParse(first.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out var key) ? key : 0;
    }

    private ColumnValue[]? Row(JsonElement payload, string name, TableShape shape, Dictionary<string, string>? semantics, bool missingIsUnchanged)
    {
        if (!payload.TryGetProperty(name, out var row) || row.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        var columns = shape.Table.Columns;
        var values = new ColumnValue[columns.Count];
        for (var i = 0; i < columns.Count; i++)
        {
            if (row.TryGetProperty(columns[i], out var value))
            {
                string? semantic = null;
                semantics?.TryGetValue(columns[i], out semantic);
                values[i] = DebeziumValues.Convert(value, shape.Types[i], semantic, _placeholder);
            }
            else
            {
                values[i] = missingIsUnchanged ? ColumnValue.Unchanged : ColumnValue.Null;
            }
        }

        return values;
    }

    /// <summary>With an embedded schema, the semantic type name of each row field (e.g. <c>io.debezium.time.MicroTimestamp</c>).</summary>
    private static Dictionary<string, string>? FieldSemantics(JsonElement root)
    {
        if (!root.TryGetProperty("schema", out var schema) || schema.ValueKind != JsonValueKind.Object ||
            !schema.TryGetProperty("fields", out var fields) || fields.ValueKind != JsonValueKind.Array)
        {
            return null;
        }

        Dictionary<string, string>? names = null;
        foreach (var envelopeField in fields.EnumerateArray())
        {
            var fieldName = envelopeField.TryGetProperty("field", out var f) ? f.GetString() : null;
            if (fieldName is not ("after" or "before") || !envelopeField.TryGetProperty("fields", out var rowFields))
            {
                continue;
            }

            foreach (var column in rowFields.EnumerateArray())
            {
                if (column.TryGetProperty("field", out var columnName) && column.TryGetProperty("name", out var semantic) && semantic.ValueKind == JsonValueKind.String)
                {
                    names ??= new Dictionary<string, string>(StringComparer.Ordinal);
                    names[columnName.GetString()!] = semantic.GetString()!;
                }
            }
        }

        return names;
    }

    /// <summary>The JSON converter wraps the value as <c>{"schema": ..., "payload": ...}</c> when schemas are enabled.</summary>
    private static JsonElement Payload(JsonElement root) =>
        root.ValueKind == JsonValueKind.Object && root.TryGetProperty("payload", out var payload) && root.TryGetProperty("schema", out _)
            ? payload
            : root;

    private static JsonDocument ParseJson(ReadOnlySpan<byte> value)
    {
        try
        {
            var reader = new Utf8JsonReader(value);
            return JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException ex)
        {
            throw new ReplicationException("a Kafka message is not JSON (configure the JSON converter)", ex);
        }
    }

    private static long ReadLong(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Number => element.GetInt64(),
        JsonValueKind.String => long.Parse(element.GetString()!, CultureInfo.InvariantCulture),
        _ => 0,
    };

    private sealed class Slot(string partition, long offset)
    {
        public string Partition { get; } = partition;

        public long Offset { get; } = offset;

        public bool Done { get; set; }

        public string? TransactionId { get; set; }

        public long TotalOrder { get; set; }

        public ulong CommitKey { get; set; }

        public ChangeEvent? Event { get; set; }
    }

    private sealed class Pending
    {
        public List<Slot> Slots { get; } = [];

        public HashSet<long> Orders { get; } = [];
    }
}
