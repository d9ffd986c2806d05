using Geo.Replication.PgOutput;
using Geo.Replication.Rejoin;
using Geo.Testing;
using Xunit.Abstractions;

namespace Geo.Replication.IntegrationTests;

/// <summary>Decoding a lost owner's divergent tail from its slot to the promoted standby, against real clusters.</summary>
[Collection(TwoClustersGroup.Name)]
public sealed class DivergentTailTests(TwoClusters clusters, ITestOutputHelper output)
{
    private const string Probe = "CREATE TABLE probe_tail (tx integer NOT NULL, n integer NOT NULL, PRIMARY KEY (tx, n))";

    [Fact]
    public async Task ReadAsync_CommitsAfterTheAppliedPosition_ExactlyThoseInCommitOrderAndTheSameWhenReadAgain()
    {
        var shard = await clusters.CreateShardAsync(extraSql: Probe);
        var replicator = RunningReplicator.Start(shard.Options());
        string slot;
        try
        {
            await replicator.WaitStreamingAsync();
            for (var tx = 1; tx <= 5; tx++)
            {
                await InsertAsync(shard.Source, tx);
            }

            await Eventually.TrueAsync(async () => await TwoClusters.ScalarAsync<long>(shard.Replica, "SELECT count(DISTINCT tx) FROM probe_tail") == 5,
                TimeSpan.FromSeconds(60), "the standby applies the first five transactions");
        }
        finally
        {
            slot = replicator.Replicator.SlotName;
            await replicator.DisposeAsync();
        }

        // The standby is promoted at its applied position; the owner went on committing (its tail).
        var applied = await TwoClusters.ScalarAsync<string>(shard.Replica, "SELECT position FROM replication_progress");
        for (var tx = 6; tx <= 8; tx++)
        {
            await InsertAsync(shard.Source, tx);
        }

        var confirmedBefore = await ConfirmedAsync(shard.Source, slot);
        try
        {
            var first = await DivergentTail.ReadAsync(shard.Source, slot, applied, TestLogging.Factory.CreateLogger("tail"));
            var second = await DivergentTail.ReadAsync(shard.Source, slot, applied, TestLogging.Factory.CreateLogger("tail"));

            output.WriteLine($"applied {applied}; tail: {string.Join(", ", first.Select(t => t.Position.Token))}");
            Assert.Equal([6, 7, 8], first.Select(TxOf));
            Assert.All(first, t => Assert.Equal(3, t.Events.Count));
            Assert.Equal(first.Select(t => t.Position), second.Select(t => t.Position));
            var confirmedAfter = await ConfirmedAsync(shard.Source, slot);
            output.WriteLine($"slot confirmed {confirmedBefore} before, {confirmedAfter} after");
            Assert.Equal(confirmedBefore, confirmedAfter);
        }
        finally
        {
            await ReplicationSlots.DropAsync(shard.Source, slot, ReplicationSlots.DefaultPublication);
        }
    }

    [Fact]
    public async Task ReadAsync_NoSlot_RefusedWithTheReason()
    {
        var shard = await clusters.CreateShardAsync(createReplica: false);

        var error = await Assert.ThrowsAsync<ReplicationException>(() => DivergentTail.ReadAsync(shard.Source, "geo_no_such_slot", "0/1000", TestLogging.Factory.CreateLogger("tail")));

        Assert.Contains("cannot be decoded", error.Message, StringComparison.Ordinal);
    }

    private static Task InsertAsync(string source, int tx) =>
        TwoClusters.ExecuteAsync(source, "INSERT INTO probe_tail SELECT @tx, n FROM generate_series(1, 3) n", ("tx", tx));

    private static int TxOf(Changes.ChangeTransaction transaction) =>
        transaction.Events.Select(e => int.Parse(e.After![e.Table.IndexOf("tx")].Text!, System.Globalization.CultureInfo.InvariantCulture)).Distinct().Single();

    private static Task<string> ConfirmedAsync(string source, string slot) =>
        TwoClusters.ScalarAsync<string>(source, "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = @slot", ("slot", slot));
}
