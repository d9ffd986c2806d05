using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Geo.Replication.Hosting;
using Geo.Replication.Kafka;
using Geo.Replication.Verification;
using Geo.Testing;
using Microsoft.Extensions.Logging;

namespace Geo.Replication.IntegrationTests;

/// <summary>
/// The Kafka/Debezium source against librdkafka's mock cluster, with events built from Debezium's documented
/// envelope. What this does not exercise: a real Kafka broker's durability, Kafka Connect and Debezium itself
/// (none can run on this machine); the events are hand-built to the documented format.
/// </summary>
[Collection(TwoClustersGroup.Name)]
public sealed class KafkaMockClusterTests(TwoClusters clusters)
{
    private const string Placeholder = "__debezium_unavailable_value";

    private const string Schema = """
        CREATE TABLE kprobe (id uuid PRIMARY KEY, name text NOT NULL, amount numeric(12,2), at timestamptz, local_at timestamp,
                             day date, data bytea, big text, flag boolean, n bigint NOT NULL);
        CREATE TABLE kprobe_applied (id uuid NOT NULL, n bigint NOT NULL, op "char" NOT NULL);
        CREATE FUNCTION kprobe_audit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN INSERT INTO kprobe_applied VALUES (OLD.id, OLD.n, 'd'); RETURN OLD; END IF;
            INSERT INTO kprobe_applied VALUES (NEW.id, NEW.n, lower(left(TG_OP, 1))); RETURN NEW;
        END $$;
        CREATE TRIGGER kprobe_audit AFTER INSERT OR UPDATE OR DELETE ON kprobe FOR EACH ROW EXECUTE FUNCTION kprobe_audit();
        ALTER TABLE kprobe ENABLE ALWAYS TRIGGER kprobe_audit;
        """;

    [Fact]
    public async Task KafkaSource_MockClusterWithSchemaEnvelopes_AppliesWholeTransactionsInCommitOrder()
    {
        using var kafka = await MockKafka.StartAsync();
        var shard = await clusters.CreateShardAsync(createReplica: true, replicaExtraSql: Schema);
        var events = NewEvents(shard, withSchemas: true);
        var script = new Script(events);
        foreach (var message in script.All())
        {
            await kafka.ProduceAsync(message.Topic, message.Partition, message.Key, message.Value);
        }

        var options = KafkaOptions(shard, kafka, "geo-b-1");
        var replicator = RunningReplicator.Start(options);
        try
        {
            await WaitForTransactionTopicAsync(shard.Replica, events.TransactionTopic, script.TransactionTopicMessages);
            await script.AssertFinalStateAsync(shard.Replica);

            // Debezium's events carry no source WAL end: the replica counts what it applied but heard nothing to estimate a loss from.
            var position = await Promotion.ReplicaPromotion.ReadPositionAsync(shard.Replica, default);
            Assert.NotNull(position);
            Assert.Null(position.HeardPosition);
            Assert.Null(position.HeardSourceTime);
            Assert.True(position.AppliedTransactions > 0);
            Assert.False(Promotion.ReplicaPromotion.Estimate(position).Known);
        }
        finally
        {
            await replicator.DisposeAsync();
        }
    }

    [Fact]
    public async Task KafkaSource_MockClusterWithoutSchemas_RestartResumesFromCommittedOffsetsAndSkipsResentTransaction()
    {
        using var kafka = await MockKafka.StartAsync();
        var shard = await clusters.CreateShardAsync(createReplica: true, replicaExtraSql: Schema);
        var events = NewEvents(shard, withSchemas: false);
        var script = new Script(events);
        var options = KafkaOptions(shard, kafka, "geo-b-2");

        foreach (var message in script.FirstHalf)
        {
            await kafka.ProduceAsync(message.Topic, message.Partition, message.Key, message.Value);
        }

        var first = RunningReplicator.Start(options);
        await WaitForTransactionTopicAsync(shard.Replica, events.TransactionTopic, script.FirstHalf.Count(m => m.Topic == events.TransactionTopic));
        await first.DisposeAsync();

        // Offsets are committed to the group after the replica committed, and equal what the replica stored.
        Assert.True(KafkaPosition.TryParse(await TwoClusters.ScalarAsync<string>(shard.Replica, "SELECT position FROM replication_progress"), out var stored));
        var committed = kafka.Committed(options.Kafka.GroupId, stored.NextOffsets.Keys.Select(Split));
        Assert.Equal(stored.NextOffsets.OrderBy(o => o.Key), committed.OrderBy(o => o.Key));

        // A connector crash makes Debezium send its last transaction again; then the rest follows.
        foreach (var message in script.LastOfFirstHalf.Concat(script.SecondHalf))
        {
            await kafka.ProduceAsync(message.Topic, message.Partition, message.Key, message.Value);
        }

        var second = RunningReplicator.Start(options);
        try
        {
            var transactionMessages = script.TransactionTopicMessages + script.LastOfFirstHalf.Count(m => m.Topic == events.TransactionTopic);
            await WaitForTransactionTopicAsync(shard.Replica, events.TransactionTopic, transactionMessages);
            await script.AssertFinalStateAsync(shard.Replica);
            Assert.Equal(0L, second.Replicator.Status.MissingRows);
        }
        finally
        {
            await second.DisposeAsync();
        }
    }

    [Fact]
    public async Task PublisherToKafkaSource_MockClusterWithRealPostgresChanges_ReplicaVerifiesConsistent()
    {
        using var kafka = await MockKafka.StartAsync();
        const string Typed = "CREATE TABLE typed (id uuid PRIMARY KEY, amount numeric(12,2), at timestamptz, local_at timestamp, day date, data bytea, flag boolean, big text)";
        // No fence row: the mock publisher has no initial snapshot (Debezium's would carry rows written before its slot).
        var shard = await clusters.CreateShardAsync(createReplica: true, extraSql: Typed, fence: false);
        var options = KafkaOptions(shard, kafka, "geo-b-e2e");

        // librdkafka 2.0.2's mock cluster does not take idempotent producers (they never get a producer id).
        options.Kafka.ClientSettings["enable.idempotence"] = "false";
        var slot = $"pub_{shard.Database}";
        var publisher = new DebeziumPublisher(shard.Source, slot, Geo.Replication.PgOutput.ReplicationSlots.DefaultPublication, options.Kafka, TestLogging.Factory.CreateLogger<DebeziumPublisher>());
        using var stopPublisher = new CancellationTokenSource();
        var publishing = Task.Run(() => publisher.RunAsync(stopPublisher.Token));
        await Task.WhenAny(publisher.Ready, publishing).Unwrap().WaitAsync(TimeSpan.FromSeconds(60));
        var replicator = RunningReplicator.Start(options);
        try
        {
            var big = Convert.ToBase64String(RandomNumberGenerator.GetBytes(15_000));
            var subscriber = Guid.CreateVersion7();
            await TwoClusters.ExecuteAsync(shard.Source, """
                BEGIN;
                INSERT INTO plans (id, display_name, download_kbps) VALUES ('basic', 'Basic', 1000), ('big', @big, 5000);
                INSERT INTO subscribers (id, username, password_enc, plan_id, framed_ip) VALUES (@s, 'alice', '\xdeadbeef', 'basic', '10.0.0.1');
                INSERT INTO typed VALUES (gen_random_uuid(), 12.5, '2024-01-02 03:04:05.123456+00', '2024-01-02 03:04:05.123456', '2024-01-02', '\x00ff', true, @big);
                INSERT INTO nas_devices (id, address, secret_enc) VALUES ('n1', '192.0.2.1', '\x01');
                COMMIT;
                """, ("big", big), ("s", subscriber));
            await TwoClusters.ExecuteAsync(shard.Source, "UPDATE plans SET download_kbps = 2000 WHERE id = 'big'; UPDATE typed SET flag = false");
            await TwoClusters.ExecuteAsync(shard.Source, "UPDATE nas_devices SET id = 'n1-renamed' WHERE id = 'n1'");
            await TwoClusters.ExecuteAsync(shard.Source, "DELETE FROM subscribers WHERE id = @s", ("s", subscriber));
            await TwoClusters.ExecuteAsync(shard.Source, "TRUNCATE cdrs, sessions; INSERT INTO plans (id, display_name) VALUES ('gold', 'Gold')");

            var report = await ShardVerifier.VerifyAsync(shard.Source, shard.Replica, TimeSpan.FromSeconds(90));
            Assert.True(report.Consistent, VerificationReportText.Render(report) + replicator.Replicator.Status.LastError);
            Assert.Equal(big, await TwoClusters.ScalarAsync<string>(shard.Replica, "SELECT big FROM typed"));
            Assert.True(publisher.PublishedTransactions >= 5);
        }
        finally
        {
            await replicator.DisposeAsync();
            await stopPublisher.CancelAsync();
            await publishing;
            await Geo.Replication.PgOutput.ReplicationSlots.DropAsync(shard.Source, slot, Geo.Replication.PgOutput.ReplicationSlots.DefaultPublication);
        }
    }

    private static DebeziumEvents NewEvents(TestShard shard, bool withSchemas)
    {
        var events = new DebeziumEvents(shard.Database, shard.Database, withSchemas);
        events.Table("kprobe",
            ("id", "string", "io.debezium.data.Uuid"), ("name", "string", null), ("amount", "string", null),
            ("at", "string", "io.debezium.time.ZonedTimestamp"), ("local_at", "int64", "io.debezium.time.MicroTimestamp"),
            ("day", "int32", "io.debezium.time.Date"), ("data", "bytes", null), ("big", "string", null), ("flag", "boolean", null), ("n", "int64", null));
        events.Table("plans", ("id", "string", null), ("display_name", "string", null), ("download_kbps", "int32", null));
        return events;
    }

    private static ShardReplicationOptions KafkaOptions(TestShard shard, MockKafka kafka, string group)
    {
        var options = new ShardReplicationOptions
        {
            Name = shard.Database + "@a",
            Source = ReplicationSourceKind.Kafka,
            ReplicaConnectionString = shard.Replica,
            Kafka = new KafkaSourceOptions { BootstrapServers = kafka.BootstrapServers, TopicPrefix = shard.Database, GroupId = group },
        };
        options.Kafka.ClientSettings["fetch.wait.max.ms"] = "10";
        options.Kafka.ClientSettings["topic.metadata.refresh.interval.ms"] = "500";
        // A restarted consumer joins after the previous member's session ends; keep that short in tests.
        options.Kafka.ClientSettings["session.timeout.ms"] = "6000";
        options.Kafka.ClientSettings["heartbeat.interval.ms"] = "500";
        return options;
    }

    private static (string, int) Split(string key)
    {
        var slash = key.LastIndexOf('/');
        return (key[..slash], int.Parse(key[(slash + 1)..], System.Globalization.CultureInfo.InvariantCulture));
    }

    private static async Task WaitForTransactionTopicAsync(string replica, string transactionTopic, int messages)
    {
        await Eventually.ValueAsync(() => TryScalarAsync(replica),
            token => token is not null && KafkaPosition.TryParse(token, out var position) &&
                position.NextOffsets.TryGetValue($"{transactionTopic}/0", out var next) && next >= messages,
            TimeSpan.FromSeconds(90), $"the replica's stored position reaches offset {messages} of {transactionTopic}", TimeSpan.FromMilliseconds(50));

        static async Task<string?> TryScalarAsync(string replica)
        {
            await using var connection = new Npgsql.NpgsqlConnection(replica);
            await connection.OpenAsync();
            await using var command = new Npgsql.NpgsqlCommand("SELECT position FROM replication_progress", connection);
            return (string?)await command.ExecuteScalarAsync();
        }
    }

    /// <summary>Six source transactions: inserts, an update with an unchanged TOASTed value, a delete (+ tombstone), a truncate, more updates.</summary>
    private sealed class Script
    {
        private static readonly Guid K1 = Guid.Parse("0190a000-0000-7000-8000-000000000001");
        private static readonly Guid K2 = Guid.Parse("0190a000-0000-7000-8000-000000000002");
        private static readonly Guid K3 = Guid.Parse("0190a000-0000-7000-8000-000000000003");
        private static readonly Guid K4 = Guid.Parse("0190a000-0000-7000-8000-000000000004");
        private readonly string _transactionTopic;
        private readonly string _big = Convert.ToBase64String(RandomNumberGenerator.GetBytes(12_000));

        public Script(DebeziumEvents events)
        {
            _transactionTopic = events.TransactionTopic;
            var t1 = events.Transaction(('c', "kprobe", null, Row(K1, 1, _big)), ('c', "kprobe", null, Row(K2, 1, "small")));
            var t2 = events.Transaction(('u', "kprobe", null, Row(K1, 2, Placeholder)));
            var t3 = events.Transaction(
                ('d', "kprobe", KeyOnly(K2), null),
                ('c', "plans", null, new JsonObject { ["id"] = "basic", ["display_name"] = "Basic", ["download_kbps"] = 1000 }));
            var t4 = events.Transaction(('t', "kprobe", null, null), ('c', "kprobe", null, Row(K3, 1, "three")), ('c', "kprobe", null, Row(K4, 1, _big)));
            var t5 = events.Transaction(('u', "kprobe", null, Row(K4, 7, Placeholder)), ('u', "kprobe", null, Row(K3, 2, "three again")));
            var t6 = events.Transaction(('u', "plans", null, new JsonObject { ["id"] = "basic", ["display_name"] = "Basic+", ["download_kbps"] = 2000 }));
            FirstHalf = [.. t1, .. t2, .. t3];
            LastOfFirstHalf = t3;
            SecondHalf = [.. t4, .. t5, .. t6];
        }

        public List<(string Topic, int Partition, string? Key, string? Value)> FirstHalf { get; }

        public List<(string Topic, int Partition, string? Key, string? Value)> LastOfFirstHalf { get; }

        public List<(string Topic, int Partition, string? Key, string? Value)> SecondHalf { get; }

        public int TransactionTopicMessages => All().Count(m => m.Topic == _transactionTopic);

        public IEnumerable<(string Topic, int Partition, string? Key, string? Value)> All() => FirstHalf.Concat(SecondHalf);

        public async Task AssertFinalStateAsync(string replica)
        {
            Assert.Equal(2L, await TwoClusters.ScalarAsync<long>(replica, "SELECT count(*) FROM kprobe"));
            Assert.Equal(_big, await TwoClusters.ScalarAsync<string>(replica, "SELECT big FROM kprobe WHERE id = @id", ("id", K4)));
            Assert.Equal(7L, await TwoClusters.ScalarAsync<long>(replica, "SELECT n FROM kprobe WHERE id = @id", ("id", K4)));
            Assert.Equal("three again", await TwoClusters.ScalarAsync<string>(replica, "SELECT big FROM kprobe WHERE id = @id", ("id", K3)));
            Assert.Equal("12.50|2024-01-02 03:04:05.123456+00|2024-01-02 03:04:05.123456|2024-01-02|\\xdeadbeef|t",
                await TwoClusters.ScalarAsync<string>(replica,
                    "SET TimeZone = 'UTC'; SELECT concat_ws('|', amount, at, local_at, day, data, flag) FROM kprobe WHERE id = @id", ("id", K3)));
            Assert.Equal("Basic+", await TwoClusters.ScalarAsync<string>(replica, "SELECT display_name FROM plans WHERE id = 'basic'"));

            // One audit row per applied row change (truncate fires no row trigger): 2 + 1 + 1 + 2 + 2, none twice.
            Assert.Equal(8L, await TwoClusters.ScalarAsync<long>(replica, "SELECT count(*) FROM kprobe_applied"));
            Assert.Equal(0L, await TwoClusters.ScalarAsync<long>(replica,
                "SELECT count(*) FROM (SELECT 1 FROM kprobe_applied GROUP BY id, n, op HAVING count(*) > 1) twice"));
        }

        private static JsonObject Row(Guid id, long n, string big) => new()
        {
            ["id"] = id.ToString(),
            ["name"] = "probe",
            ["amount"] = "12.50",
            ["at"] = "2024-01-02T03:04:05.123456Z",
            ["local_at"] = 1_704_164_645_123_456L,
            ["day"] = 19_724,
            ["data"] = Convert.ToBase64String([0xde, 0xad, 0xbe, 0xef]),
            ["big"] = big,
            ["flag"] = true,
            ["n"] = n,
        };

        private static JsonObject KeyOnly(Guid id) => new()
        {
            ["id"] = id.ToString(), ["name"] = null, ["amount"] = null, ["at"] = null, ["local_at"] = null,
            ["day"] = null, ["data"] = null, ["big"] = null, ["flag"] = null, ["n"] = 1,
        };
    }
}
