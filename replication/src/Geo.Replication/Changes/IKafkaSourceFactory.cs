using Geo.Replication.Kafka;
using Microsoft.Extensions.Logging;

namespace Geo.Replication.Changes;

/// <summary>
/// Makes the change source of a shard fed by Debezium's topics in Kafka. Geo.Replication.Kafka implements it, so that
/// only the programs that read Kafka (geo-replicator) carry Confluent.Kafka and the native librdkafka.
/// </summary>
public interface IKafkaSourceFactory
{
    /// <summary>A source reading <paramref name="options"/>' topics for the replica at <paramref name="replicaConnectionString"/>.</summary>
    IChangeSource Create(KafkaSourceOptions options, string replicaConnectionString, ILoggerFactory loggerFactory);
}
