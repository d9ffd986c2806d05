using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Confluent.Kafka;
using Geo.Replication.Applying;
using Geo.Replication.Changes;
using Geo.Replication.PgOutput;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Geo.Replication.Kafka;

/// <summary>
/// Debezium's topics as a change source: a <see cref="TransactionAssembler"/> rebuilds whole transactions in commit order,
/// and group offsets are committed only after the replica commits. On start the replica's stored offsets win.
/// </summary>
internal sealed partial class KafkaDebeziumSource : IChangeSource
{
    private readonly KafkaSourceOptions _options;
    private readonly string _replicaConnectionString;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private TransactionAssembler? _assembler;
    private IConsumer<byte[]?, byte[]?>? _consumer;
    private List<string> _topics = [];
    private KafkaPosition? _toCommit;
    private KafkaPosition _committed = KafkaPosition.Empty;
    private Dictionary<string, long> _readNext = new(StringComparer.Ordinal);

    public KafkaDebeziumSource(KafkaSourceOptions options, string replicaConnectionString, ILogger logger)
    {
        KafkaNativeLibrary.EnsureRegistered();
        _options = options;
        _replicaConnectionString = replicaConnectionString;
        _logger = logger;
    }

    public string Name => _options.StreamName;

    public ulong ConfirmedLsn => 0;

    public async Task<SourceSnapshot?> OpenAsync(string? storedPosition, CancellationToken cancellationToken)
    {
        var start = KafkaPosition.Empty;
        if (storedPosition is not null && !KafkaPosition.TryParse(storedPosition, out start))
        {
            throw new ReplicationException($"{Name}: the replica's stored position is not a Kafka position: {storedPosition}");
        }

        var tables = await LoadTablesAsync(cancellationToken);
        _assembler = new TransactionAssembler(tables, _options.TransactionTopicName, _options.UnavailableValuePlaceholder, start);
        _readNext = new Dictionary<string, long>(start.NextOffsets, StringComparer.Ordinal);
        _committed = start;
        _topics = [.. tables.Select(t => _options.DataTopic(t.Table.Schema, t.Table.Name)), _options.TransactionTopicName];

        var config = new ConsumerConfig(_options.ClientSettings)
        {
            BootstrapServers = _options.BootstrapServers,
            GroupId = _options.GroupId,
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnablePartitionEof = false,
            AllowAutoCreateTopics = false,
        };

        // One consumer per shard (the replica's advisory lock sees to it): after a crash, its successor should not
        // wait librdkafka's default 45 s for the dead member's session to expire.
        config.SessionTimeoutMs ??= 10_000;
        config.HeartbeatIntervalMs ??= 1_000;
        _consumer = new ConsumerBuilder<byte[]?, byte[]?>(config)
            .SetPartitionsAssignedHandler((_, partitions) => partitions.Select(Resume))
            .SetErrorHandler((_, error) => LogKafkaError(_logger, Name, error.Code.ToString(), error.Reason))
            .SetLogHandler((_, message) => LogKafkaLog(_logger, Name, message.Facility, message.Message))
            .Build();
        _consumer.Subscribe(_topics);
        LogOpened(_logger, Name, _topics.Count, start.NextOffsets.Count);
        return null;
    }

    public async IAsyncEnumerable<ChangeTransaction> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var consumer = _consumer ?? throw new InvalidOperationException("OpenAsync first");
        var assembler = _assembler!;
        var queue = Channel.CreateBounded<ChangeTransaction>(new BoundedChannelOptions(1024) { SingleReader = true, SingleWriter = true });

        // Consume() blocks: a thread of its own feeds the queue, and commits what the replica acknowledged.
        var pump = Task.Factory.StartNew(() => Pump(consumer, assembler, queue.Writer, cancellationToken), cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        try
        {
            await foreach (var transaction in queue.Reader.ReadAllAsync(cancellationToken))
            {
                yield return transaction;
            }
        }
        finally
        {
            // The consumer is closed on dispose: the pump must be off it first.
            await pump.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    public ValueTask AcknowledgeAsync(SourcePosition position, CancellationToken cancellationToken)
    {
        if (KafkaPosition.TryParse(position.Token, out var parsed))
        {
            lock (_gate)
            {
                _toCommit = parsed;
            }
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        if (_consumer is { } consumer)
        {
            _consumer = null;
            try
            {
                CommitAcknowledged(consumer);
                consumer.Close();
            }
            catch (KafkaException ex)
            {
                LogKafkaError(_logger, Name, ex.Error.Code.ToString(), ex.Error.Reason);
            }

            consumer.Dispose();
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Where a newly assigned partition resumes: after what this source already read, else the replica's stored offset, else the group's.</summary>
    private TopicPartitionOffset Resume(TopicPartition partition)
    {
        lock (_gate)
        {
            return _readNext.TryGetValue(KafkaPosition.Key(partition.Topic, partition.Partition.Value), out var next)
                ? new TopicPartitionOffset(partition, new Offset(next))
                : new TopicPartitionOffset(partition, Offset.Unset);
        }
    }

    private void Pump(IConsumer<byte[]?, byte[]?> consumer, TransactionAssembler assembler, ChannelWriter<ChangeTransaction> writer, CancellationToken cancellationToken)
    {
        var completed = new List<ChangeTransaction>();
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                ConsumeResult<byte[]?, byte[]?>? result;
                try
                {
                    result = consumer.Consume(TimeSpan.FromMilliseconds(100));
                }
                catch (ConsumeException ex) when (!ex.Error.IsFatal && ex.Error.Code == ErrorCode.UnknownTopicOrPart)
                {
                    // A table that never changed has no topic yet; the subscription picks it up when it appears.
                    continue;
                }

                if (result?.Message is { } message)
                {
                    var key = KafkaPosition.Key(result.Topic, result.Partition.Value);
                    assembler.Add(result.Topic, result.Partition.Value, result.Offset.Value, message.Value, message.Value is null, completed);
                    lock (_gate)
                    {
                        _readNext[key] = result.Offset.Value + 1;
                    }

                    foreach (var transaction in completed)
                    {
                        // Back-pressure: wait while the applier is behind.
                        writer.WriteAsync(transaction, cancellationToken).AsTask().GetAwaiter().GetResult();
                    }

                    completed.Clear();
                }

                CommitAcknowledged(consumer);
            }

            writer.TryComplete();
        }
        catch (OperationCanceledException)
        {
            writer.TryComplete();
        }
        catch (Exception ex) when (ex is KafkaException or ReplicationException or InvalidOperationException or FormatException)
        {
            writer.TryComplete(ex);
        }
    }

    private void CommitAcknowledged(IConsumer<byte[]?, byte[]?> consumer)
    {
        KafkaPosition? position;
        lock (_gate)
        {
            position = _toCommit;
            _toCommit = null;
        }

        if (position is null || ReferenceEquals(position, _committed))
        {
            return;
        }

        var offsets = new List<TopicPartitionOffset>();
        foreach (var (key, next) in position.NextOffsets)
        {
            if (!_committed.NextOffsets.TryGetValue(key, out var before) || before != next)
            {
                var slash = key.LastIndexOf('/');
                offsets.Add(new TopicPartitionOffset(key[..slash], new Partition(int.Parse(key.AsSpan(slash + 1), System.Globalization.CultureInfo.InvariantCulture)), new Offset(next)));
            }
        }

        if (offsets.Count > 0)
        {
            consumer.Commit(offsets);
        }

        _committed = position;
    }

    private async Task<List<TableShape>> LoadTablesAsync(CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(_replicaConnectionString);
        await connection.OpenAsync(cancellationToken);
        var shapes = new List<TableShape>();
        foreach (var table in await ReplicatedTables.ListAsync(connection, null, cancellationToken))
        {
            var replica = await ReplicaTable.LoadAsync(connection, null, table.Schema, table.Name, cancellationToken)
                ?? throw new ReplicationException($"table {table} vanished");
            var keys = replica.PrimaryKey.Select(replica.IndexOf).ToArray();
            var description = new ChangeTable(table.Schema, table.Name, replica.Columns.Select(c => c.Name).ToArray(), keys);
            shapes.Add(new TableShape(description, replica.Columns.Select(c => c.Type).ToArray()));
        }

        if (shapes.Count == 0)
        {
            throw new ReplicationException($"{Name}: the replica has no table to replicate into (apply the tenant migrations to it)");
        }

        return shapes;
    }

    [LoggerMessage(EventId = 4401, Level = LogLevel.Information, Message = "{Source}: subscribed to {Topics} topics, {Stored} partition offsets stored in the replica")]
    private static partial void LogOpened(ILogger logger, string source, int topics, int stored);

    [LoggerMessage(EventId = 4402, Level = LogLevel.Warning, Message = "{Source}: Kafka error {Code}: {Reason}")]
    private static partial void LogKafkaError(ILogger logger, string source, string code, string reason);

    [LoggerMessage(EventId = 4403, Level = LogLevel.Debug, Message = "{Source}: librdkafka {Facility}: {Message}")]
    private static partial void LogKafkaLog(ILogger logger, string source, string facility, string message);
}
