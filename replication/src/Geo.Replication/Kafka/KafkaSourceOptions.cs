namespace Geo.Replication.Kafka;

/// <summary>How to read one shard's Debezium topics from Kafka.</summary>
public sealed class KafkaSourceOptions
{
    /// <summary>Kafka bootstrap servers (<c>host:port,...</c>).</summary>
    public string BootstrapServers { get; set; } = "";

    /// <summary>The connector's <c>topic.prefix</c>: data topics are <c>&lt;prefix&gt;.&lt;schema&gt;.&lt;table&gt;</c>.</summary>
    public string TopicPrefix { get; set; } = "";

    /// <summary>The transaction metadata topic; default <c>&lt;prefix&gt;.transaction</c>. It must have one partition (it orders commits).</summary>
    public string? TransactionTopic { get; set; }

    /// <summary>The consumer group: offsets are committed there after each replica commit (the replica's stored offsets win on restart).</summary>
    public string GroupId { get; set; } = "";

    /// <summary>Debezium's <c>unavailable.value.placeholder</c>: an unchanged TOASTed value.</summary>
    public string UnavailableValuePlaceholder { get; set; } = "__debezium_unavailable_value";

    /// <summary>Extra librdkafka settings (security, timeouts), passed through as they are.</summary>
    public IDictionary<string, string> ClientSettings { get; } = new Dictionary<string, string>();

    /// <summary>The stream's key in the replica's <c>replication_progress</c>.</summary>
    public string StreamName => $"kafka:{TopicPrefix}";

    /// <summary>The transaction topic's name.</summary>
    public string TransactionTopicName => TransactionTopic ?? $"{TopicPrefix}.transaction";

    /// <summary>The data topic of a table.</summary>
    public string DataTopic(string schema, string table) => $"{TopicPrefix}.{schema}.{table}";
}
