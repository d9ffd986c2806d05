using Geo.Replication.Changes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Geo.Replication.Kafka;

/// <summary>The Kafka (Debezium) change source, for the replicator's shards whose source is Kafka.</summary>
public sealed class KafkaSourceFactory : IKafkaSourceFactory
{
    /// <inheritdoc />
    public IChangeSource Create(KafkaSourceOptions options, string replicaConnectionString, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(loggerFactory);
        return new KafkaDebeziumSource(options, replicaConnectionString, loggerFactory.CreateLogger<KafkaDebeziumSource>());
    }
}

/// <summary>Registers the Kafka source with a replicator's services.</summary>
public static class KafkaSourceServiceCollectionExtensions
{
    /// <summary>Lets the replicator stream shards whose source is Kafka.</summary>
    public static IServiceCollection AddKafkaSource(this IServiceCollection services) => services.AddSingleton<IKafkaSourceFactory, KafkaSourceFactory>();
}
