using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Geo.Replication.Changes;
using Geo.Replication.Kafka;

namespace Geo.Replication.Tests;

public sealed class TransactionAssemblerTests
{
    private const string TransactionTopic = "geo.transaction";
    private const string DataTopic = "geo.public.items";

    private static readonly TableShape Items = new(new ChangeTable("public", "items", ["id", "v"], [0]), ["integer", "integer"]);

    [Fact]
    public void Add_EventsOnSeveralPartitionsBeforeEnd_EmitsWholeTransactionInTotalOrder()
    {
        var assembler = New(KafkaPosition.Empty);
        var completed = new List<ChangeTransaction>();

        assembler.Add(TransactionTopic, 0, 0, Begin("t1"), false, completed);
        assembler.Add(DataTopic, 2, 0, Change("t1", 2, id: 20, commitKey: 100), false, completed);
        assembler.Add(DataTopic, 1, 0, Change("t1", 1, id: 10, commitKey: 100), false, completed);
        Assert.Empty(completed);

        assembler.Add(TransactionTopic, 0, 1, End("t1", 2), false, completed);

        var transaction = Assert.Single(completed);
        Assert.Equal("t1", transaction.Id);
        Assert.Equal(["10", "20"], transaction.Events.Select(e => e.After![0].Text!).ToArray());
        Assert.True(KafkaPosition.TryParse(transaction.Position.Token, out var position));
        Assert.Equal(2, position.NextOffsets[$"{TransactionTopic}/0"]);
        Assert.Equal(1, position.NextOffsets[$"{DataTopic}/1"]);
        Assert.Equal(1, position.NextOffsets[$"{DataTopic}/2"]);
    }

    [Fact]
    public void Add_EndBeforeItsEvents_WaitsForAllEvents()
    {
        var assembler = New(KafkaPosition.Empty);
        var completed = new List<ChangeTransaction>();
        assembler.Add(TransactionTopic, 0, 0, End("t1", 2), false, completed);
        assembler.Add(DataTopic, 0, 0, Change("t1", 1, id: 1, commitKey: 5), false, completed);
        Assert.Empty(completed);

        assembler.Add(DataTopic, 1, 0, Change("t1", 2, id: 2, commitKey: 5), false, completed);

        Assert.Equal(2, Assert.Single(completed).Events.Count);
    }

    [Fact]
    public void Add_LaterTransactionBuffered_PositionStopsAtItsFirstEvent()
    {
        var assembler = New(KafkaPosition.Empty);
        var completed = new List<ChangeTransaction>();
        assembler.Add(DataTopic, 0, 0, Change("t1", 1, id: 1, commitKey: 5), false, completed);
        assembler.Add(DataTopic, 0, 1, Change("t2", 1, id: 2, commitKey: 9), false, completed);
        assembler.Add(DataTopic, 0, 2, null, true, completed); // a tombstone
        assembler.Add(TransactionTopic, 0, 0, End("t1", 1), false, completed);

        Assert.True(KafkaPosition.TryParse(Assert.Single(completed).Position.Token, out var position));
        Assert.Equal(1, position.NextOffsets[$"{DataTopic}/0"]); // t2's event at offset 1 is not applied yet
        Assert.Equal(2, assembler.Buffered);
    }

    [Fact]
    public void Add_SameEventTwice_AppliedOnce()
    {
        var assembler = New(KafkaPosition.Empty);
        var completed = new List<ChangeTransaction>();
        assembler.Add(DataTopic, 0, 0, Change("t1", 1, id: 1, commitKey: 5), false, completed);
        assembler.Add(DataTopic, 0, 1, Change("t1", 1, id: 1, commitKey: 5), false, completed);
        assembler.Add(DataTopic, 0, 2, Change("t1", 2, id: 2, commitKey: 5), false, completed);

        assembler.Add(TransactionTopic, 0, 0, End("t1", 2), false, completed);

        Assert.Equal(2, Assert.Single(completed).Events.Count);
        Assert.Equal(0, assembler.Buffered);
    }

    [Fact]
    public void Add_RepeatedEndOrResentTransaction_DroppedAndLaterTransactionsFlow()
    {
        var assembler = New(KafkaPosition.Empty);
        var completed = new List<ChangeTransaction>();
        assembler.Add(DataTopic, 0, 0, Change("t1", 1, id: 1, commitKey: 5), false, completed);
        assembler.Add(TransactionTopic, 0, 0, End("t1", 1), false, completed);
        assembler.Add(TransactionTopic, 0, 1, End("t1", 1), false, completed);
        assembler.Add(DataTopic, 0, 1, Change("t1", 1, id: 1, commitKey: 5), false, completed);
        assembler.Add(DataTopic, 0, 2, Change("t2", 1, id: 2, commitKey: 9), false, completed);

        assembler.Add(TransactionTopic, 0, 2, End("t2", 1), false, completed);

        Assert.Equal(["t1", "t2"], completed.Select(t => t.Id).ToArray());
        Assert.True(KafkaPosition.TryParse(completed[^1].Position.Token, out var position));
        Assert.Equal(3, position.NextOffsets[$"{DataTopic}/0"]);
        Assert.Equal(3, position.NextOffsets[$"{TransactionTopic}/0"]);
    }

    [Fact]
    public void Add_EventWithoutTransactionMetadata_EmittedAlone()
    {
        var assembler = New(KafkaPosition.Empty);
        var completed = new List<ChangeTransaction>();

        assembler.Add(DataTopic, 3, 0, Change(null, 0, id: 7, commitKey: 0, op: "r"), false, completed);

        var transaction = Assert.Single(completed);
        Assert.Equal(ChangeOperation.Read, Assert.Single(transaction.Events).Op);
        Assert.Equal(0UL, transaction.Position.Lsn);
    }

    [Fact]
    public void Add_MessageBelowStoredOffset_Ignored()
    {
        var start = new KafkaPosition(0, new Dictionary<string, long> { [$"{DataTopic}/0"] = 5, [$"{TransactionTopic}/0"] = 3 });
        var assembler = New(start);
        var completed = new List<ChangeTransaction>();

        assembler.Add(DataTopic, 0, 4, Change("old", 1, id: 1, commitKey: 1), false, completed);
        assembler.Add(TransactionTopic, 0, 2, End("old", 1), false, completed);

        Assert.Empty(completed);
        Assert.Equal(0, assembler.Buffered);
    }

    [Fact]
    public void Add_TransactionEvents_CommitKeyFromSequenceOrdersTransactions()
    {
        var assembler = New(KafkaPosition.Empty);
        var completed = new List<ChangeTransaction>();
        assembler.Add(DataTopic, 0, 0, Change("t1", 1, id: 1, commitKey: 100), false, completed);
        assembler.Add(TransactionTopic, 0, 0, End("t1", 1), false, completed);
        assembler.Add(DataTopic, 0, 1, Change("t2", 1, id: 2, commitKey: 200), false, completed);
        assembler.Add(TransactionTopic, 0, 1, End("t2", 1), false, completed);

        Assert.Equal([100UL, 200UL], completed.Select(t => t.Position.Lsn).ToArray());
    }

    /// <summary>
    /// Random partitioning, random interleaving of partitions (each in order), and a crash at a random point with a
    /// restart from the last emitted position: every transaction comes out exactly once, in commit order.
    /// </summary>
    [Fact]
    public void Add_RandomInterleavingsAndRestarts_EveryTransactionOnceInCommitOrder()
    {
        var random = new Random(1234);
        for (var round = 0; round < 200; round++)
        {
            var (partitions, order) = Produce(random, transactions: random.Next(1, 30), dataPartitions: random.Next(1, 5));
            var emitted = new List<string>();
            var position = KafkaPosition.Empty;
            var crashes = random.Next(0, 4);
            for (var run = 0; run <= crashes; run++)
            {
                var assembler = New(position);
                var completed = new List<ChangeTransaction>();
                var read = partitions.ToDictionary(p => p.Key, p => (int)(position.NextOffsets.TryGetValue(p.Key, out var next) ? next : 0));
                var budget = run < crashes ? random.Next(0, 60) : int.MaxValue;
                while (budget-- > 0)
                {
                    var open = read.Where(r => r.Value < partitions[r.Key].Count).Select(r => r.Key).ToList();
                    if (open.Count == 0)
                    {
                        break;
                    }

                    var key = open[random.Next(open.Count)];
                    var offset = read[key]++;
                    var (topic, partition) = Split(key);
                    var message = partitions[key][offset];
                    assembler.Add(topic, partition, offset, message ?? [], message is null, completed);
                }

                foreach (var transaction in completed)
                {
                    emitted.Add(transaction.Id);
                    Assert.True(KafkaPosition.TryParse(transaction.Position.Token, out position));
                }
            }

            Assert.Equal(order, emitted);
        }
    }

    private static (Dictionary<string, List<byte[]?>> Partitions, List<string> CommitOrder) Produce(Random random, int transactions, int dataPartitions)
    {
        var partitions = new Dictionary<string, List<byte[]?>> { [$"{TransactionTopic}/0"] = [] };
        for (var p = 0; p < dataPartitions; p++)
        {
            partitions[$"{DataTopic}/{p}"] = [];
        }

        var order = new List<string>();
        var id = 0;
        for (var t = 1; t <= transactions; t++)
        {
            var name = $"t{t}";
            order.Add(name);
            partitions[$"{TransactionTopic}/0"].Add(Begin(name));
            var events = random.Next(0, 6);
            for (var e = 1; e <= events; e++)
            {
                var partition = $"{DataTopic}/{random.Next(dataPartitions)}";
                partitions[partition].Add(Change(name, e, ++id, commitKey: (ulong)t * 10));
                if (random.Next(4) == 0)
                {
                    partitions[partition].Add(null);
                }
            }

            partitions[$"{TransactionTopic}/0"].Add(End(name, events));
        }

        return (partitions, order);
    }

    private static TransactionAssembler New(KafkaPosition start) => new([Items], TransactionTopic, "__debezium_unavailable_value", start);

    private static (string Topic, int Partition) Split(string key)
    {
        var slash = key.LastIndexOf('/');
        return (key[..slash], int.Parse(key[(slash + 1)..], CultureInfo.InvariantCulture));
    }

    private static byte[] Begin(string id) => Json(new JsonObject { ["status"] = "BEGIN", ["id"] = id, ["event_count"] = null });

    private static byte[] End(string id, int count) => Json(new JsonObject { ["status"] = "END", ["id"] = id, ["event_count"] = count });

    private static byte[] Change(string? transaction, int order, int id, ulong commitKey, string op = "c") => Json(new JsonObject
    {
        ["before"] = null,
        ["after"] = new JsonObject { ["id"] = id, ["v"] = order },
        ["source"] = new JsonObject
        {
            ["db"] = "geo", ["schema"] = "public", ["table"] = "items", ["txId"] = 1, ["lsn"] = 1000 + id, ["ts_ms"] = 1_700_000_000_000,
            ["sequence"] = $"[\"{commitKey.ToString(CultureInfo.InvariantCulture)}\",\"{(1000 + id).ToString(CultureInfo.InvariantCulture)}\"]",
        },
        ["op"] = op,
        ["transaction"] = transaction is null ? null : new JsonObject { ["id"] = transaction, ["total_order"] = order, ["data_collection_order"] = order },
    });

    private static byte[] Json(JsonObject value) => Encoding.UTF8.GetBytes(value.ToJsonString());
}
