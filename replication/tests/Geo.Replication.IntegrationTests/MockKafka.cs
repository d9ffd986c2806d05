using System.Text;
using Confluent.Kafka;

namespace Geo.Replication.IntegrationTests;

/// <summary>
/// librdkafka's mock cluster (<c>test.mock.num.brokers</c>), started by a producer that keeps it alive. Not a
/// durable broker: tests against it prove the consumer and Debezium event handling, not Kafka itself.
/// </summary>
public sealed class MockKafka : IDisposable
{
    private readonly IProducer<byte[]?, byte[]?> _producer;

    private MockKafka(IProducer<byte[]?, byte[]?> producer, string bootstrapServers)
    {
        _producer = producer;
        BootstrapServers = bootstrapServers;
    }

    public string BootstrapServers { get; }

    public static async Task<MockKafka> StartAsync()
    {
        Kafka.KafkaNativeLibrary.EnsureRegistered();
        var bootstrap = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var config = new ProducerConfig { BootstrapServers = "localhost:1", Acks = Acks.All, LingerMs = 0 };
        config.Set("test.mock.num.brokers", "1");
        var producer = new ProducerBuilder<byte[]?, byte[]?>(config)
            .SetLogHandler((_, message) =>
            {
                // "... bootstrap.servers replaced with 127.0.0.1:p1"
                const string Marker = "replaced with ";
                var at = message.Message.IndexOf(Marker, StringComparison.Ordinal);
                if (message.Facility == "MOCK" && at >= 0)
                {
                    bootstrap.TrySetResult(message.Message[(at + Marker.Length)..].Trim());
                }
            })
            .Build();
        var servers = await bootstrap.Task.WaitAsync(TimeSpan.FromSeconds(30));
        return new MockKafka(producer, servers);
    }

    public async Task ProduceAsync(string topic, int partition, string? key, string? value)
    {
        await _producer.ProduceAsync(new TopicPartition(topic, new Partition(partition)), new Message<byte[]?, byte[]?>
        {
            Key = key is null ? null : Encoding.UTF8.GetBytes(key),
            Value = value is null ? null : Encoding.UTF8.GetBytes(value),
        });
    }

    /// <summary>The offsets a consumer group committed for these partitions.</summary>
    public Dictionary<string, long> Committed(string groupId, IEnumerable<(string Topic, int Partition)> partitions)
    {
        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = BootstrapServers, GroupId = groupId }).Build();
        return consumer.Committed(partitions.Select(p => new TopicPartition(p.Topic, new Partition(p.Partition))), TimeSpan.FromSeconds(10))
            .Where(c => c.Offset.Value >= 0)
            .ToDictionary(c => $"{c.Topic}/{c.Partition.Value}", c => c.Offset.Value);
    }

    public void Dispose()
    {
        _producer.Flush(TimeSpan.FromSeconds(5));
        _producer.Dispose();
    }
}
