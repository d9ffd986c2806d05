using System.Globalization;
using System.Text.Json.Nodes;

namespace Geo.Replication.IntegrationTests;

/// <summary>
/// Builds messages as Debezium's PostgreSQL connector writes them with the JSON converter (documented envelope:
/// <c>before</c>, <c>after</c>, <c>source</c> with <c>db/schema/table/txId/lsn/ts_ms/sequence</c>, <c>op</c>, <c>ts_ms</c>,
/// <c>transaction {id, total_order, data_collection_order}</c>), with or without the <c>{"schema", "payload"}</c>
/// wrapper, and the transaction metadata topic's BEGIN/END events.
/// </summary>
public sealed class DebeziumEvents(string prefix, string database, bool withSchemas)
{
    private readonly Dictionary<string, List<(string Field, string Type, string? Name)>> _tables = [];
    private long _lsn = 24_000_000;
    private long _lastCommitLsn;
    private long _txId = 500;

    public string TransactionTopic => $"{prefix}.transaction";

    public string Topic(string table) => $"{prefix}.public.{table}";

    /// <summary>Declares a table's fields: Kafka Connect type and semantic name.</summary>
    public void Table(string table, params (string Field, string Type, string? Name)[] fields) => _tables[table] = [.. fields];

    /// <summary>One source transaction: its messages in the order Debezium writes them (BEGIN, the events, END).</summary>
    public List<(string Topic, int Partition, string? Key, string? Value)> Transaction(params (char Op, string Table, JsonObject? Before, JsonObject? After)[] changes)
    {
        var txId = ++_txId;
        var beginLsn = _lsn += 100;
        var id = $"{txId}:{beginLsn}";
        var messages = new List<(string, int, string?, string?)> { (TransactionTopic, 0, $"{{\"id\":\"{id}\"}}", Wrap(TransactionSchema, new JsonObject
        {
            ["status"] = "BEGIN", ["id"] = id, ["event_count"] = null, ["data_collections"] = null, ["ts_ms"] = 1_700_000_000_000 + txId,
        })) };
        var perTable = new Dictionary<string, int>();
        var order = 0;
        foreach (var (op, table, before, after) in changes)
        {
            order++;
            perTable[table] = perTable.GetValueOrDefault(table) + 1;
            var lsn = _lsn += 56;
            var payload = new JsonObject
            {
                ["before"] = before?.DeepClone(),
                ["after"] = after?.DeepClone(),
                ["source"] = new JsonObject
                {
                    ["version"] = "2.5.0.Final", ["connector"] = "postgresql", ["name"] = prefix, ["ts_ms"] = 1_700_000_000_000 + txId,
                    ["snapshot"] = "false", ["db"] = database,
                    ["sequence"] = $"[\"{_lastCommitLsn.ToString(CultureInfo.InvariantCulture)}\",\"{lsn.ToString(CultureInfo.InvariantCulture)}\"]",
                    ["schema"] = "public", ["table"] = table, ["txId"] = txId, ["lsn"] = lsn, ["xmin"] = null,
                },
                ["op"] = op.ToString(),
                ["ts_ms"] = 1_700_000_000_100 + txId,
                ["transaction"] = new JsonObject { ["id"] = id, ["total_order"] = order, ["data_collection_order"] = perTable[table] },
            };
            var key = (after ?? before)?["id"]?.ToJsonString();
            var partition = key is null ? 0 : (int)((uint)key.GetHashCode(StringComparison.Ordinal) % 4);
            messages.Add((Topic(table), partition, key, Wrap(EnvelopeSchema(table), payload)));
            if (op == 'd')
            {
                messages.Add((Topic(table), partition, key, null)); // the tombstone
            }
        }

        var commitLsn = _lsn += 40;
        messages.Add((TransactionTopic, 0, $"{{\"id\":\"{id}\"}}", Wrap(TransactionSchema, new JsonObject
        {
            ["status"] = "END", ["id"] = id, ["event_count"] = changes.Length,
            ["data_collections"] = new JsonArray(perTable.Select(t => (JsonNode)new JsonObject { ["data_collection"] = $"public.{t.Key}", ["event_count"] = t.Value }).ToArray()),
            ["ts_ms"] = 1_700_000_000_000 + txId,
        })));
        _lastCommitLsn = commitLsn;
        return messages;
    }

    private string Wrap(JsonObject schema, JsonObject payload) =>
        withSchemas ? new JsonObject { ["schema"] = schema, ["payload"] = payload }.ToJsonString() : payload.ToJsonString();

    private static JsonObject TransactionSchema => new()
    {
        ["type"] = "struct", ["optional"] = false, ["name"] = "io.debezium.connector.common.TransactionMetadataValue",
        ["fields"] = new JsonArray(
            Field("status", "string", null, false), Field("id", "string", null, false), Field("event_count", "int64", null, true), Field("ts_ms", "int64", null, true)),
    };

    private JsonObject EnvelopeSchema(string table)
    {
        JsonObject Row(string field) => new()
        {
            ["type"] = "struct", ["optional"] = true, ["name"] = $"{prefix}.public.{table}.Value", ["field"] = field,
            ["fields"] = new JsonArray(_tables[table].Select(f => (JsonNode)Field(f.Field, f.Type, f.Name, true)).ToArray()),
        };

        return new JsonObject
        {
            ["type"] = "struct", ["optional"] = false, ["name"] = $"{prefix}.public.{table}.Envelope",
            ["fields"] = new JsonArray(
                Row("before"), Row("after"),
                new JsonObject { ["type"] = "struct", ["optional"] = false, ["name"] = "io.debezium.connector.postgresql.Source", ["field"] = "source", ["fields"] = new JsonArray() },
                Field("op", "string", null, false), Field("ts_ms", "int64", null, true)),
        };
    }

    private static JsonObject Field(string field, string type, string? name, bool optional)
    {
        var node = new JsonObject { ["type"] = type, ["optional"] = optional, ["field"] = field };
        if (name is not null)
        {
            node["name"] = name;
        }

        return node;
    }
}
