using System.Globalization;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Geo.Replication.Changes;
using Geo.Replication.PgOutput;
using Microsoft.Extensions.Logging;

namespace Geo.Replication.Kafka;

/// <summary>
/// Publishes a shard's pgoutput stream to Kafka in Debezium's format (one topic per table, transaction topic). The slot is
/// acknowledged only after Kafka acked everything up to it: at least once, repeats skipped by <c>source.sequence[0]</c>.
/// No snapshot of existing rows.
/// </summary>
public sealed partial class DebeziumPublisher
{
    private readonly string _sourceConnectionString;
    private readonly string _slotName;
    private readonly string _publication;
    private readonly KafkaSourceOptions _kafka;
    private readonly ILogger _logger;

    /// <summary>Creates a publisher for one shard.</summary>
    public DebeziumPublisher(string sourceConnectionString, string slotName, string publication, KafkaSourceOptions kafka, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(kafka);
        ArgumentNullException.ThrowIfNull(logger);
        KafkaNativeLibrary.EnsureRegistered();
        _sourceConnectionString = sourceConnectionString;
        _slotName = slotName;
        _publication = publication;
        _kafka = kafka;
        _logger = logger;
    }

    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once the slot exists and streaming starts: changes committed after this are published.</summary>
    public Task Ready => _ready.Task;

    /// <summary>Transactions published since start.</summary>
    public long PublishedTransactions => Interlocked.Read(ref _published);

    private long _published;

    /// <summary>Creates the slot when missing, then publishes until cancelled.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        // The publication first: pgoutput reads it with the catalog as of each change, so a slot older than its
        // publication fails on the changes in between.
        await ReplicationSlots.EnsurePublicationAsync(_sourceConnectionString, _publication, cancellationToken);
        var start = await ReplicationSlots.EnsureSlotAsync(_sourceConnectionString, _slotName, cancellationToken);
        var config = new ProducerConfig(_kafka.ClientSettings)
        {
            BootstrapServers = _kafka.BootstrapServers,
            Acks = Acks.All,
            LingerMs = 5,
        };

        // Idempotence keeps each partition in order without duplicates across retries (a broker that lacks it: one
        // request in flight keeps the order, and the Kafka source drops repeated events).
        config.EnableIdempotence ??= true;
        if (config.EnableIdempotence == false)
        {
            config.MaxInFlight = 1;
        }
        using var producer = new ProducerBuilder<byte[]?, byte[]?>(config).Build();
        await using var source = new PgOutputSource(_sourceConnectionString, _slotName, _publication, _logger);
        await source.OpenAsync(Lsn.Format(start), cancellationToken);
        _ready.TrySetResult();
        var previousCommit = start;
        var failure = (Error?)null;
        void OnDelivery(DeliveryReport<byte[]?, byte[]?> report)
        {
            if (report.Error.IsError)
            {
                failure ??= report.Error;
                LogDeliveryFailed(_logger, report.Topic, report.Error.Reason);
            }
        }

        try
        {
            await foreach (var transaction in source.ReadAsync(cancellationToken))
            {
                LogPublishing(_logger, transaction.Id, transaction.Events.Count);
                Publish(producer, transaction, previousCommit, OnDelivery);
                previousCommit = transaction.Position.Lsn;

                // Everything up to this transaction is in Kafka before the slot moves past it.
                producer.Flush(cancellationToken);
                if (failure is { } error)
                {
                    throw new KafkaException(error);
                }

                await source.AcknowledgeAsync(transaction.Position, cancellationToken);
                Interlocked.Increment(ref _published);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }

        LogStopped(_logger, _slotName, PublishedTransactions);
    }

    private void Publish(IProducer<byte[]?, byte[]?> producer, ChangeTransaction transaction, ulong previousCommit, Action<DeliveryReport<byte[]?, byte[]?>> onDelivery)
    {
        var id = $"{transaction.TxId.ToString(CultureInfo.InvariantCulture)}:{transaction.Position.Lsn.ToString(CultureInfo.InvariantCulture)}";
        var transactionKey = Json(w => w.WriteString("id", id));
        producer.Produce(new TopicPartition(_kafka.TransactionTopicName, new Partition(0)),
            new Message<byte[]?, byte[]?> { Key = transactionKey, Value = Json(w => TransactionEvent(w, "BEGIN", id, transaction, null)) }, onDelivery);

        var perTable = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < transaction.Events.Count; i++)
        {
            var change = transaction.Events[i];
            var table = change.Table;
            perTable[table.QualifiedName] = perTable.GetValueOrDefault(table.QualifiedName) + 1;
            // Keyed by primary key (a truncate has no row, hence no key), so a row's changes share a partition.
            var key = change.Op == ChangeOperation.Truncate ? null : Json(w => Row(w, table, change.After ?? change.Before, keysOnly: true, nested: false));
            var value = Json(w =>
            {
                w.WritePropertyName("before");
                Row(w, table, change.Op is ChangeOperation.Delete or ChangeOperation.Update ? change.Before : null, keysOnly: false);
                w.WritePropertyName("after");
                Row(w, table, change.After, keysOnly: false);
                w.WriteStartObject("source");
                w.WriteString("connector", "geo-replicator");
                w.WriteString("name", _kafka.TopicPrefix);
                w.WriteNumber("ts_ms", transaction.CommitTime.ToUnixTimeMilliseconds());
                w.WriteString("db", change.Source.Database);
                w.WriteString("sequence", $"[\"{previousCommit.ToString(CultureInfo.InvariantCulture)}\",\"{transaction.Position.Lsn.ToString(CultureInfo.InvariantCulture)}\"]");
                w.WriteString("schema", table.Schema);
                w.WriteString("table", table.Name);
                w.WriteNumber("txId", transaction.TxId);
                w.WriteNumber("lsn", change.Source.Lsn);
                w.WriteEndObject();
                w.WriteString("op", change.Op.ToCode().ToString());
                w.WriteNumber("ts_ms", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
                w.WriteStartObject("transaction");
                w.WriteString("id", id);
                w.WriteNumber("total_order", i + 1);
                w.WriteNumber("data_collection_order", perTable[table.QualifiedName]);
                w.WriteEndObject();
            });
            var topic = _kafka.DataTopic(table.Schema, table.Name);
            producer.Produce(topic, new Message<byte[]?, byte[]?> { Key = key, Value = value }, onDelivery);
            if (change.Op == ChangeOperation.Delete)
            {
                producer.Produce(topic, new Message<byte[]?, byte[]?> { Key = key, Value = null }, onDelivery);
            }
        }

        producer.Produce(new TopicPartition(_kafka.TransactionTopicName, new Partition(0)),
            new Message<byte[]?, byte[]?> { Key = transactionKey, Value = Json(w => TransactionEvent(w, "END", id, transaction, perTable)) }, onDelivery);
    }

    private static void TransactionEvent(Utf8JsonWriter writer, string status, string id, ChangeTransaction transaction, Dictionary<string, int>? perTable)
    {
        writer.WriteString("status", status);
        writer.WriteString("id", id);
        if (perTable is null)
        {
            writer.WriteNull("event_count");
            writer.WriteNull("data_collections");
        }
        else
        {
            writer.WriteNumber("event_count", transaction.Events.Count);
            writer.WriteStartArray("data_collections");
            foreach (var (collection, count) in perTable)
            {
                writer.WriteStartObject();
                writer.WriteString("data_collection", collection);
                writer.WriteNumber("event_count", count);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        }

        writer.WriteNumber("ts_ms", transaction.CommitTime.ToUnixTimeMilliseconds());
    }

    private void Row(Utf8JsonWriter writer, ChangeTable table, IReadOnlyList<ColumnValue>? row, bool keysOnly, bool nested = true)
    {
        if (row is null)
        {
            writer.WriteNullValue();
            return;
        }

        if (nested)
        {
            writer.WriteStartObject();
        }

        for (var i = 0; i < table.Columns.Count; i++)
        {
            if (keysOnly && !table.KeyColumns.Contains(i))
            {
                continue;
            }

            writer.WritePropertyName(table.Columns[i]);
            WriteValue(writer, row[i], table.ColumnTypeOids?[i] ?? 0);
        }

        if (nested)
        {
            writer.WriteEndObject();
        }
    }

    /// <summary>PostgreSQL text to the JSON Debezium writes for the type (the subset the tenant schema uses; other types as strings).</summary>
    private void WriteValue(Utf8JsonWriter writer, ColumnValue value, uint typeOid)
    {
        if (value.Kind == ColumnValueKind.Null)
        {
            writer.WriteNullValue();
            return;
        }

        if (value.Kind == ColumnValueKind.Unchanged)
        {
            writer.WriteStringValue(typeOid == 17 ? Convert.ToBase64String(Encoding.UTF8.GetBytes(_kafka.UnavailableValuePlaceholder)) : _kafka.UnavailableValuePlaceholder);
            return;
        }

        var text = value.Text!;
        switch (typeOid)
        {
            case 16: // bool
                writer.WriteBooleanValue(text == "t" || text == "true");
                break;
            case 20 or 21 or 23 or 700 or 701: // int8, int2, int4, float4, float8
                writer.WriteRawValue(text, skipInputValidation: false);
                break;
            case 17: // bytea, text form \x...
                writer.WriteStringValue(Convert.ToBase64String(Convert.FromHexString(text.AsSpan(2))));
                break;
            case 1082: // date: days since the epoch (io.debezium.time.Date)
                writer.WriteNumberValue(DateOnly.ParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture).DayNumber - DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber);
                break;
            case 1114: // timestamp: microseconds since the epoch (io.debezium.time.MicroTimestamp)
                writer.WriteNumberValue((DateTime.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal) - DateTime.UnixEpoch).Ticks / 10);
                break;
            case 1184: // timestamptz: ISO-8601 in UTC (io.debezium.time.ZonedTimestamp)
                writer.WriteStringValue(DateTimeOffset.Parse(text, CultureInfo.InvariantCulture).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture));
                break;
            default: // text, uuid, numeric (decimal.handling.mode=string), inet, char, json...
                writer.WriteStringValue(text);
                break;
        }
    }

    private static byte[] Json(Action<Utf8JsonWriter> body)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    [LoggerMessage(EventId = 4502, Level = LogLevel.Debug, Message = "Publishing transaction {Transaction} ({Events} events)")]
    private static partial void LogPublishing(ILogger logger, string transaction, int events);

    [LoggerMessage(EventId = 4503, Level = LogLevel.Warning, Message = "Kafka did not take a message for {Topic}: {Reason}")]
    private static partial void LogDeliveryFailed(ILogger logger, string topic, string reason);

    [LoggerMessage(EventId = 4501, Level = LogLevel.Information, Message = "Publisher of slot {Slot} stopped after {Transactions} transactions")]
    private static partial void LogStopped(ILogger logger, string slot, long transactions);
}
