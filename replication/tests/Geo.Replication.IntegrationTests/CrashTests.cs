using System.Collections.Concurrent;
using System.Diagnostics;
using Geo.Engines;
using Geo.Replication.PgOutput;
using Geo.Replication.Verification;
using Geo.Testing;
using Npgsql;
using Xunit.Abstractions;

namespace Geo.Replication.IntegrationTests;

[Collection(TwoClustersGroup.Name)]
public sealed class CrashTests(TwoClusters clusters, ITestOutputHelper output)
{
    private const string Probe = "CREATE TABLE probe (id integer PRIMARY KEY, version integer NOT NULL, payload text)";

    /// <summary>On the replica only: an ENABLE ALWAYS trigger (it fires under session_replication_role = replica) logs every change applied, in the applier's transaction.</summary>
    private const string Audit = """
        CREATE TABLE probe_applied (id integer NOT NULL, version integer NOT NULL, op "char" NOT NULL);
        CREATE FUNCTION probe_audit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN INSERT INTO probe_applied VALUES (OLD.id, OLD.version, 'd'); RETURN OLD; END IF;
            INSERT INTO probe_applied VALUES (NEW.id, NEW.version, lower(left(TG_OP, 1))); RETURN NEW;
        END $$;
        CREATE TRIGGER probe_audit AFTER INSERT OR UPDATE OR DELETE ON probe FOR EACH ROW EXECUTE FUNCTION probe_audit();
        ALTER TABLE probe ENABLE ALWAYS TRIGGER probe_audit;
        """;

    [Fact]
    public async Task Replicator_SigkilledAtRandomPointsDuring100kChanges_ReplicaIdenticalAndNothingAppliedTwice()
    {
        const int TotalChanges = 100_000;
        var shard = await clusters.CreateShardAsync(createReplica: true, extraSql: Probe, replicaExtraSql: Audit);
        var random = new Random(20240611);
        var logs = new ConcurrentQueue<string>();
        using var stopWorkload = new CancellationTokenSource();
        var kills = 0;
        try
        {
            // The initial sync first (the audit counts changes applied by streaming; a snapshot copies rows, not changes).
            await using (var seeding = ReplicatorProcess.Start(shard, logs))
            {
                await Eventually.TrueAsync(async () => await TwoClusters.ScalarAsync<long>(shard.Replica, "SELECT count(*) FROM replication_progress") > 0,
                    TimeSpan.FromMinutes(1), "the initial sync finishes", TimeSpan.FromMilliseconds(50), seeding.Tail);

                seeding.Kill();
                await seeding.WaitForExitAsync(TimeSpan.FromSeconds(10));
                kills++;
            }

            var stopwatch = Stopwatch.StartNew();
            var workload = Task.Run(() => WorkloadAsync(shard.Source, TotalChanges, new Random(7), stopWorkload.Token));
            // Kill -9 at random points (start-up, initial sync, mid-batch, between batches) while the workload runs.
            while (!workload.IsCompleted)
            {
                await using var replicator = ReplicatorProcess.Start(shard, logs);
                var lifetime = TimeSpan.FromMilliseconds(random.Next(200, 2500));
                await Task.WhenAny(workload, Task.Delay(lifetime));
                Assert.False(replicator.HasExited, "geo-replicator exited by itself:\n" + replicator.Tail());
                replicator.Kill();
                await replicator.WaitForExitAsync(TimeSpan.FromSeconds(10));
                kills++;
            }

            var written = await workload;
            Assert.Equal(TotalChanges, written);

            // A last run catches up, then stops gracefully on SIGTERM.
            await using (var last = ReplicatorProcess.Start(shard, logs))
            {
                var caughtUp = await ReplicationBarrier.WaitForReplicaAsync(shard.Source, shard.Replica, TimeSpan.FromMinutes(3));
                Assert.True(caughtUp, "replica did not catch up:\n" + last.Tail());
                var report = await ShardVerifier.VerifyAsync(shard.Source, shard.Replica, TimeSpan.FromMinutes(1));
                Assert.True(report.Consistent, VerificationReportText.Render(report));
                Assert.True(await Processes.SignalAsync(last.Pid, "TERM"));
                Assert.Equal(0, await last.WaitForExitAsync(TimeSpan.FromSeconds(30)));
            }

            output.WriteLine($"{TotalChanges} changes, {kills} SIGKILLs, {stopwatch.Elapsed.TotalSeconds:F1} s");
            Assert.True(kills >= 5, $"only {kills} kills: the workload ended too soon to test crashes");

            // Nothing lost and nothing applied twice: exactly one audit row per source change, no (row, version, op) twice.
            Assert.Equal((long)TotalChanges, await TwoClusters.ScalarAsync<long>(shard.Replica, "SELECT count(*) FROM probe_applied"));
            Assert.Equal(0L, await TwoClusters.ScalarAsync<long>(shard.Replica,
                "SELECT count(*) FROM (SELECT 1 FROM probe_applied GROUP BY id, version, op HAVING count(*) > 1) twice"));
            Assert.Equal(
                await TwoClusters.ScalarAsync<long>(shard.Source, "SELECT count(*) FROM probe"),
                await TwoClusters.ScalarAsync<long>(shard.Replica, "SELECT count(*) FROM probe"));
        }
        finally
        {
            await stopWorkload.CancelAsync();
            await ReplicationSlots.DropAsync(shard.Source, ReplicationSlots.DefaultSlotName(shard.Database, "b"), ReplicationSlots.DefaultPublication);
        }
    }

    /// <summary>
    /// Transactions of 1 to 20 changes on <c>probe</c>: inserts of fresh ids, updates that raise a row's version,
    /// deletes. Every change has a distinct (id, version, op), so an applied-twice change shows up in the audit.
    /// </summary>
    private static async Task<int> WorkloadAsync(string source, int totalChanges, Random random, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(source);
        await connection.OpenAsync(cancellationToken);
        var live = new List<(int Id, int Version)>();
        var nextId = 1;
        var written = 0;
        while (written < totalChanges)
        {
            var changes = Math.Min(random.Next(1, 21), totalChanges - written);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await using var batch = new NpgsqlBatch(connection, transaction);
            for (var c = 0; c < changes; c++)
            {
                var roll = random.Next(10);
                if (live.Count < 50 || roll < 5)
                {
                    var command = new NpgsqlBatchCommand("INSERT INTO probe (id, version, payload) VALUES ($1, 1, $2)");
                    command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = nextId });
                    command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = new string('x', random.Next(0, 200)) });
                    batch.BatchCommands.Add(command);
                    live.Add((nextId++, 1));
                }
                else
                {
                    var index = random.Next(live.Count);
                    var (id, version) = live[index];
                    if (roll < 9)
                    {
                        var command = new NpgsqlBatchCommand("UPDATE probe SET version = $2 WHERE id = $1");
                        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = id });
                        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = version + 1 });
                        batch.BatchCommands.Add(command);
                        live[index] = (id, version + 1);
                    }
                    else
                    {
                        var command = new NpgsqlBatchCommand("DELETE FROM probe WHERE id = $1");
                        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = id });
                        batch.BatchCommands.Add(command);
                        live[index] = live[^1];
                        live.RemoveAt(live.Count - 1);
                    }
                }
            }

            await batch.ExecuteNonQueryAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            written += changes;

            // An open loop at roughly 5,000 changes/s leaves the replicator time to die in every phase.
            if (written % 2_000 < changes)
            {
                await Task.Delay(300, cancellationToken);
            }
        }

        return written;
    }
}
