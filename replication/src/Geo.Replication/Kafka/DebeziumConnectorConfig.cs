using System.Globalization;
using System.Text.Json.Nodes;

namespace Geo.Replication.Kafka;

/// <summary>What <see cref="DebeziumConnectorConfig"/> needs to know about a shard's source database.</summary>
public sealed class DebeziumConnectorSettings
{
    /// <summary>The shard's database (<c>geo_&lt;tenant&gt;_&lt;home&gt;</c>); also the default topic prefix.</summary>
    public required string Database { get; init; }

    /// <summary>Host of the shard's PostgreSQL, as Kafka Connect reaches it.</summary>
    public required string Host { get; init; }

    /// <summary>Port of the shard's PostgreSQL.</summary>
    public int Port { get; init; } = 5432;

    /// <summary>The replication user Debezium connects as.</summary>
    public string User { get; init; } = "debezium";

    /// <summary>
    /// How Kafka Connect finds the password: a config provider reference, never the password itself
    /// (default: a <c>FileConfigProvider</c> properties file on the Connect workers).
    /// </summary>
    public string PasswordReference { get; init; } = "${file:/opt/kafka/secrets/geo-debezium.properties:password}";

    /// <summary>The replicated tables, <c>schema.table</c>.</summary>
    public required IReadOnlyList<string> Tables { get; init; }

    /// <summary>Kafka's replication factor for the topics the connector creates.</summary>
    public int ReplicationFactor { get; init; } = 3;

    /// <summary>Partitions of each data topic (the transaction topic always gets one: it orders commits).</summary>
    public int DataPartitions { get; init; } = 4;
}

/// <summary>
/// The Kafka Connect configuration of Debezium's PostgreSQL connector for one shard, with the settings the
/// replicator's Kafka source reads: pgoutput, transaction metadata on, JSON converter with schemas, decimals
/// as strings, bytes as base64, microsecond times, truncates emitted, a one-partition transaction topic.
/// </summary>
public static class DebeziumConnectorConfig
{
    /// <summary>The <c>{"name": ..., "config": {...}}</c> body for <c>POST /connectors</c>.</summary>
    public static JsonObject Create(DebeziumConnectorSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var prefix = settings.Database;
        var config = new JsonObject
        {
            ["connector.class"] = "io.debezium.connector.postgresql.PostgresConnector",
            ["plugin.name"] = "pgoutput",
            ["database.hostname"] = settings.Host,
            ["database.port"] = settings.Port.ToString(CultureInfo.InvariantCulture),
            ["database.user"] = settings.User,
            ["database.password"] = settings.PasswordReference,
            ["database.dbname"] = settings.Database,
            ["topic.prefix"] = prefix,
            ["slot.name"] = $"debezium_{settings.Database}",
            ["publication.name"] = $"debezium_{settings.Database}",
            ["publication.autocreate.mode"] = "filtered",
            ["table.include.list"] = string.Join(",", settings.Tables),
            ["snapshot.mode"] = "initial",
            ["provide.transaction.metadata"] = "true",
            ["skipped.operations"] = "none",
            ["tombstones.on.delete"] = "true",
            ["decimal.handling.mode"] = "string",
            ["binary.handling.mode"] = "base64",
            ["time.precision.mode"] = "adaptive_time_microseconds",
            ["interval.handling.mode"] = "string",
            ["heartbeat.interval.ms"] = "10000",
            ["key.converter"] = "org.apache.kafka.connect.json.JsonConverter",
            ["key.converter.schemas.enable"] = "true",
            ["value.converter"] = "org.apache.kafka.connect.json.JsonConverter",
            ["value.converter.schemas.enable"] = "true",
            ["topic.creation.default.replication.factor"] = settings.ReplicationFactor.ToString(CultureInfo.InvariantCulture),
            ["topic.creation.default.partitions"] = settings.DataPartitions.ToString(CultureInfo.InvariantCulture),
            ["topic.creation.groups"] = "transaction",
            ["topic.creation.transaction.include"] = $"{prefix}\\.transaction",
            ["topic.creation.transaction.partitions"] = "1",
            ["topic.creation.transaction.replication.factor"] = settings.ReplicationFactor.ToString(CultureInfo.InvariantCulture),
        };
        return new JsonObject { ["name"] = $"geo-{settings.Database.Replace('_', '-')}", ["config"] = config };
    }
}
