using System.Security.Cryptography;
using Geo.Replication.Hosting;
using Geo.Replication.PgOutput;
using Geo.Replication.Verification;
using Geo.Schema;
using Geo.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Geo.Replication.IntegrationTests;

[Collection(TwoClustersGroup.Name)]
public sealed class PgOutputReplicationTests(TwoClusters clusters)
{
    private static readonly TimeSpan CatchUp = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Replicate_MixedTransactions_ReplicaMatchesSourceAndVerifyAgrees()
    {
        var shard = await clusters.CreateShardAsync(createReplica: false);
        var replicator = RunningReplicator.Start(shard.Options(applyTenantMigrations: true));
        try
        {
            var big = LargeText(20_000);
            var (s1, s2) = (Guid.CreateVersion7(), Guid.CreateVersion7());
            await TwoClusters.ExecuteAsync(shard.Source, """
                BEGIN;
                INSERT INTO plans (id, display_name, download_kbps) VALUES ('basic', 'Basic', 1000), ('big', @big, 5000);
                INSERT INTO subscribers (id, username, password_enc, plan_id, framed_ip) VALUES (@s1, 'alice', '\xdeadbeef', 'basic', '10.0.0.1'), (@s2, 'bob', '\x00ff', 'big', NULL);
                INSERT INTO balances (subscriber_id, amount_micros) VALUES (@s1, 5000000), (@s2, 0);
                INSERT INTO nas_devices (id, address, secret_enc) VALUES ('n1', '192.0.2.1', '\x01'), ('n2', '192.0.2.2', '\x02');
                COMMIT;
                """, ("big", big), ("s1", s1), ("s2", s2));

            // Only download_kbps changes: the large display_name arrives as an "unchanged TOAST" marker.
            await TwoClusters.ExecuteAsync(shard.Source, "UPDATE plans SET download_kbps = 2000, updated_at = now() WHERE id = 'big'");
            await TwoClusters.ExecuteAsync(shard.Source, """
                BEGIN;
                UPDATE subscribers SET status = 'suspended' WHERE id = @s1;
                DELETE FROM balances WHERE subscriber_id = @s2;
                INSERT INTO sessions (id, nas_id, acct_session_id, subscriber_id, username, started_at, last_update_at)
                VALUES (@session, 'n2', 'acct-1', @s1, 'alice', now(), now());
                INSERT INTO cdrs (id, session_id, subscriber_id, kind, event_time, input_octets, output_octets, session_time_s)
                VALUES (gen_random_uuid(), @session, @s1, 'start', now(), 0, 0, 0);
                INSERT INTO ledger_entries (id, subscriber_id, kind, amount_micros, balance_after_micros, idempotency_key)
                VALUES (gen_random_uuid(), @s1, 'topup', 5000000, 5000000, 'k-1');
                COMMIT;
                """, ("s1", s1), ("s2", s2), ("session", Guid.CreateVersion7()));
            await TwoClusters.ExecuteAsync(shard.Source, "UPDATE nas_devices SET id = 'n1-renamed' WHERE id = 'n1'");
            await TwoClusters.ExecuteAsync(shard.Source, "TRUNCATE cdrs, sessions");
            await TwoClusters.ExecuteAsync(shard.Source, "BEGIN; INSERT INTO plans (id, display_name) VALUES ('ghost', 'never committed'); ROLLBACK;");

            Assert.True(await ReplicationBarrier.WaitForReplicaAsync(shard.Source, shard.Replica, CatchUp), "replica did not catch up");
            Assert.Equal(big, await TwoClusters.ScalarAsync<string>(shard.Replica, "SELECT display_name FROM plans WHERE id = 'big'"));
            Assert.Equal(2000, await TwoClusters.ScalarAsync<int>(shard.Replica, "SELECT download_kbps FROM plans WHERE id = 'big'"));
            Assert.Equal(0L, await TwoClusters.ScalarAsync<long>(shard.Replica, "SELECT count(*) FROM plans WHERE id = 'ghost'"));
            Assert.Equal(1L, await TwoClusters.ScalarAsync<long>(shard.Replica, "SELECT count(*) FROM nas_devices WHERE id = 'n1-renamed'"));
            Assert.Equal(0L, await TwoClusters.ScalarAsync<long>(shard.Replica, "SELECT count(*) FROM sessions"));
            Assert.Equal("suspended", await TwoClusters.ScalarAsync<string>(shard.Replica, "SELECT status FROM subscribers WHERE id = @s", ("s", s1)));
            Assert.Equal(1L, await TwoClusters.ScalarAsync<long>(shard.Replica, "SELECT count(*) FROM ledger_entries"));

            var report = await ShardVerifier.VerifyAsync(shard.Source, shard.Replica, CatchUp);
            Assert.True(report.Consistent, VerificationReportText.Render(report));
            Assert.Contains(report.Tables, t => t.Table == "public.plans" && t.SourceRows == 2);

            // Everyone but the applier sees a read-only replica (a new session: the guard applies to sessions opened after it).
            await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(shard.Replica) { Pooling = false }.ConnectionString);
            await connection.OpenAsync();
            await using var write = new NpgsqlCommand("INSERT INTO plans (id, display_name) VALUES ('rogue', 'x')", connection);
            var refused = await Assert.ThrowsAsync<PostgresException>(() => write.ExecuteNonQueryAsync());
            Assert.Equal(PostgresErrorCodes.ReadOnlySqlTransaction, refused.SqlState);
        }
        finally
        {
            await replicator.RetireAsync(shard.Source);
        }
    }

    [Fact]
    public async Task Replicate_ManyRowsPerStatement_AppliedSetBasedWithTheSameResultAsRowByRow()
    {
        var shard = await clusters.CreateShardAsync(createReplica: false);
        var replicator = RunningReplicator.Start(shard.Options(applyTenantMigrations: true));
        try
        {
            // Streaming first, so that the rows below arrive as changes, not in the initial copy.
            Assert.True(await ReplicationBarrier.WaitForReplicaAsync(shard.Source, shard.Replica, CatchUp), "replica did not start streaming");

            // Runs of inserts, updates and deletes of one shape (applied as one statement each), NULLs among them,
            // interleaved shapes, and chained key changes (a -> b, then b -> c) that must not share a statement.
            await TwoClusters.ExecuteAsync(shard.Source, """
                BEGIN;
                INSERT INTO plans (id, display_name) VALUES ('p', 'P');
                INSERT INTO subscribers (id, username, password_enc, plan_id, framed_ip)
                SELECT gen_random_uuid(), 'u' || n, '\x01', 'p', CASE WHEN n % 3 = 0 THEN NULL ELSE ('10.1.0.' || n)::inet END FROM generate_series(1, 60) n;
                INSERT INTO balances (subscriber_id, amount_micros) SELECT id, 1000 FROM subscribers;
                INSERT INTO nas_devices (id, address, secret_enc) VALUES ('a', '192.0.2.10', '\x01'), ('x', '192.0.2.11', '\x02');
                COMMIT;
                """);
            await TwoClusters.ExecuteAsync(shard.Source, """
                BEGIN;
                UPDATE balances SET amount_micros = amount_micros + 7 WHERE subscriber_id IN (SELECT id FROM subscribers WHERE username LIKE 'u1%');
                UPDATE subscribers SET status = 'suspended', framed_ip = NULL WHERE username LIKE 'u2%';
                DELETE FROM balances WHERE subscriber_id IN (SELECT id FROM subscribers WHERE username LIKE 'u3%');
                UPDATE nas_devices SET id = 'b' WHERE id = 'a';
                UPDATE nas_devices SET id = 'c' WHERE id = 'b';
                UPDATE nas_devices SET id = 'a' WHERE id = 'x';
                UPDATE balances SET amount_micros = amount_micros + 1;
                COMMIT;
                """);

            Assert.True(await ReplicationBarrier.WaitForReplicaAsync(shard.Source, shard.Replica, CatchUp), "replica did not catch up");
            var report = await ShardVerifier.VerifyAsync(shard.Source, shard.Replica, CatchUp);
            Assert.True(report.Consistent, VerificationReportText.Render(report));
            Assert.Equal("a,c", await TwoClusters.ScalarAsync<string>(shard.Replica, "SELECT string_agg(id, ',' ORDER BY id) FROM nas_devices"));
            Assert.Equal(60L - 11, await TwoClusters.ScalarAsync<long>(shard.Replica, "SELECT count(*) FROM balances"));
            Assert.Equal(11L, await TwoClusters.ScalarAsync<long>(shard.Replica, "SELECT count(*) FROM balances WHERE amount_micros = 1008"));
            Assert.Equal(0L, await TwoClusters.ScalarAsync<long>(shard.Replica, "SELECT count(*) FROM subscribers WHERE username LIKE 'u2%' AND (status <> 'suspended' OR framed_ip IS NOT NULL)"));
        }
        finally
        {
            await replicator.RetireAsync(shard.Source);
        }
    }

    [Fact]
    public async Task TenantShard_SourceNotFencedYet_WaitsThenStreamsEveryTable()
    {
        // A shard being provisioned: migrated, but its fence not written yet (the last step before it may stream).
        var shard = await clusters.CreateShardAsync(createReplica: false, fence: false);
        await using var replicator = RunningReplicator.Start(shard.Options(applyTenantMigrations: true));
        await Eventually.ValueAsync(() => Task.FromResult(replicator.Replicator.Status),
            status => status.LastError?.Contains("not ready to stream", StringComparison.Ordinal) == true, TimeSpan.FromSeconds(30),
            "the replicator reports the shard not ready to stream");

        Assert.False(await ReplicationSlots.SlotExistsAsync(shard.Source, replicator.Replicator.SlotName));

        await ShardFence.EnsureAsync(shard.Source, shard.Database["geo_".Length..^"_a".Length], "a");
        await replicator.WaitStreamingAsync();
        // The fence table (migration 0002) is published although it was created before the replicator first looked.
        await TwoClusters.ExecuteAsync(shard.Source, "UPDATE shard_fence SET epoch = 2");
        await Eventually.ValueAsync(() => TwoClusters.ScalarAsync<long?>(shard.Replica, "SELECT max(epoch) FROM shard_fence"), epoch => epoch == 2, CatchUp,
            "the fence's change reaches the replica");
    }

    [Fact]
    public async Task InitialSync_PreexistingData_CopiedFromSnapshotThenStreamed()
    {
        var shard = await clusters.CreateShardAsync(createReplica: true);
        var big = LargeText(50_000);
        await TwoClusters.ExecuteAsync(shard.Source, """
            INSERT INTO plans (id, display_name) SELECT 'p' || g, 'Plan ' || g FROM generate_series(1, 500) g;
            INSERT INTO plans (id, display_name) VALUES ('big', @big);
            INSERT INTO subscribers (id, username, password_enc, plan_id)
            SELECT gen_random_uuid(), 'user' || g, '\x00', 'p' || (1 + g % 500) FROM generate_series(1, 2000) g;
            """, ("big", big));

        var replicator = RunningReplicator.Start(shard.Options());
        try
        {
            // Writes while the snapshot is copied or right after: each lands exactly once.
            for (var i = 0; i < 20; i++)
            {
                await TwoClusters.ExecuteAsync(shard.Source, "UPDATE plans SET download_kbps = @v WHERE id = 'p1'; INSERT INTO plans (id, display_name) VALUES (@id, 'late')",
                    ("v", 100 + i), ("id", $"late{i}"));
            }

            Assert.True(await ReplicationBarrier.WaitForReplicaAsync(shard.Source, shard.Replica, CatchUp), "replica did not catch up");
            Assert.Equal(521L, await TwoClusters.ScalarAsync<long>(shard.Replica, "SELECT count(*) FROM plans"));
            Assert.Equal(2000L, await TwoClusters.ScalarAsync<long>(shard.Replica, "SELECT count(*) FROM subscribers"));
            Assert.Equal(big, await TwoClusters.ScalarAsync<string>(shard.Replica, "SELECT display_name FROM plans WHERE id = 'big'"));
            Assert.Equal(119, await TwoClusters.ScalarAsync<int>(shard.Replica, "SELECT download_kbps FROM plans WHERE id = 'p1'"));
            var report = await ShardVerifier.VerifyAsync(shard.Source, shard.Replica, CatchUp);
            Assert.True(report.Consistent, VerificationReportText.Render(report));
            Assert.Equal(1L, await TwoClusters.ScalarAsync<long>(shard.Replica, "SELECT count(*) FROM replication_progress"));
        }
        finally
        {
            await replicator.RetireAsync(shard.Source);
        }
    }

    [Fact]
    public async Task Restart_FromStoredPosition_AppliesEachTransactionOnce()
    {
        const string Probe = "CREATE TABLE probe (id integer PRIMARY KEY, version integer NOT NULL)";

        // On the replica only: an ENABLE ALWAYS trigger (fires under session_replication_role = replica) logs every applied change.
        const string Audit = """
            CREATE TABLE probe_applied (id integer NOT NULL, version integer NOT NULL, op text NOT NULL);
            CREATE FUNCTION probe_audit() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'DELETE' THEN INSERT INTO probe_applied VALUES (OLD.id, OLD.version, 'd'); RETURN OLD; END IF;
                INSERT INTO probe_applied VALUES (NEW.id, NEW.version, lower(left(TG_OP, 1))); RETURN NEW;
            END $$;
            CREATE TRIGGER probe_audit AFTER INSERT OR UPDATE OR DELETE ON probe FOR EACH ROW EXECUTE FUNCTION probe_audit();
            ALTER TABLE probe ENABLE ALWAYS TRIGGER probe_audit;
            """;
        var shard = await clusters.CreateShardAsync(createReplica: true, extraSql: Probe, replicaExtraSql: Audit);
        var first = RunningReplicator.Start(shard.Options());
        await first.WaitStreamingAsync();
        for (var t = 0; t < 10; t++)
        {
            await TwoClusters.ExecuteAsync(shard.Source, "INSERT INTO probe SELECT g, 1 FROM generate_series(@from, @from + 9) g", ("from", t * 10));
        }

        Assert.True(await ReplicationBarrier.WaitForReplicaAsync(shard.Source, shard.Replica, CatchUp));
        await first.DisposeAsync();
        var appliedByFirst = first.Replicator.Status.AppliedTransactions;

        // Written while no replicator runs: the next one resumes from the replica's stored position.
        for (var t = 0; t < 10; t++)
        {
            await TwoClusters.ExecuteAsync(shard.Source, "UPDATE probe SET version = version + 1 WHERE id BETWEEN @from AND @from + 9", ("from", t * 10));
        }

        var second = RunningReplicator.Start(shard.Options());
        try
        {
            Assert.True(await ReplicationBarrier.WaitForReplicaAsync(shard.Source, shard.Replica, CatchUp));
            Assert.Equal(200L, await TwoClusters.ScalarAsync<long>(shard.Replica, "SELECT count(*) FROM probe_applied"));
            Assert.Equal(0L, await TwoClusters.ScalarAsync<long>(shard.Replica,
                "SELECT count(*) FROM (SELECT id, version, op FROM probe_applied GROUP BY 1, 2, 3 HAVING count(*) > 1) d"));
            Assert.True(appliedByFirst >= 10);
            Assert.Equal(0L, await TwoClusters.ScalarAsync<long>(shard.Replica, "SELECT count(*) FROM probe WHERE version <> 2"));
        }
        finally
        {
            await second.RetireAsync(shard.Source);
        }
    }

    [Fact]
    public async Task Verify_DivergedReplica_ListsDifferingTablesAndKeys()
    {
        var shard = await clusters.CreateShardAsync(createReplica: true);
        var subscriber = Guid.CreateVersion7();
        await TwoClusters.ExecuteAsync(shard.Source, """
            INSERT INTO plans (id, display_name) VALUES ('basic', 'Basic'), ('gold', 'Gold');
            INSERT INTO subscribers (id, username, password_enc, plan_id) VALUES (@s, 'carol', '\x00', 'gold');
            """, ("s", subscriber));
        var replicator = RunningReplicator.Start(shard.Options());
        try
        {
            Assert.True(await ReplicationBarrier.WaitForReplicaAsync(shard.Source, shard.Replica, CatchUp));
            Assert.True((await ShardVerifier.VerifyAsync(shard.Source, shard.Replica, CatchUp)).Consistent);

            await TwoClusters.ExecuteAsync(shard.Replica, "SET session_replication_role = replica; UPDATE plans SET display_name = 'tampered' WHERE id = 'basic'; DELETE FROM subscribers;");
            var report = await ShardVerifier.VerifyAsync(shard.Source, shard.Replica, CatchUp, attempts: 1);

            Assert.False(report.Consistent);
            Assert.Equal(["public.plans", "public.subscribers"], report.Differences.Select(d => d.Table).Order().ToArray());
            Assert.Contains("changed: basic", report.Differences.Single(d => d.Table == "public.plans").DifferingKeys);
            Assert.Contains($"missing: {subscriber}", report.Differences.Single(d => d.Table == "public.subscribers").DifferingKeys);
        }
        finally
        {
            await replicator.RetireAsync(shard.Source);
        }
    }

    [Fact]
    public async Task Migration_NewTableAndColumnWhileStreaming_ReplicatedFromTheFirstChange()
    {
        var shard = await clusters.CreateShardAsync(createReplica: true);
        var replicator = RunningReplicator.Start(shard.Options());
        try
        {
            await replicator.WaitStreamingAsync();
            await TwoClusters.ExecuteAsync(shard.Source, "INSERT INTO plans (id, display_name) VALUES ('basic', 'Basic')");

            // Replica first, then the source: the new table joins the publication in the migration's own transaction.
            const string Migration = "CREATE TABLE vouchers (code text PRIMARY KEY, amount_micros bigint NOT NULL); ALTER TABLE plans ADD COLUMN promo text;";
            await TwoClusters.ExecuteAsync(shard.Replica, Migration);
            await TwoClusters.ExecuteAsync(shard.Source, "BEGIN; " + Migration + " INSERT INTO vouchers VALUES ('v1', 5000000); UPDATE plans SET promo = 'spring'; COMMIT;");
            await TwoClusters.ExecuteAsync(shard.Source, "INSERT INTO vouchers VALUES ('v2', 1000000)");

            Assert.True(await ReplicationBarrier.WaitForReplicaAsync(shard.Source, shard.Replica, CatchUp), replicator.Replicator.Status.LastError);
            Assert.Equal(1L, await TwoClusters.ScalarAsync<long>(shard.Source, "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'geo_replication' AND tablename = 'vouchers'"));
            Assert.Equal(2L, await TwoClusters.ScalarAsync<long>(shard.Replica, "SELECT count(*) FROM vouchers"));
            Assert.Equal("spring", await TwoClusters.ScalarAsync<string>(shard.Replica, "SELECT promo FROM plans WHERE id = 'basic'"));
            Assert.True((await ShardVerifier.VerifyAsync(shard.Source, shard.Replica, CatchUp)).Consistent);
        }
        finally
        {
            await replicator.RetireAsync(shard.Source);
        }
    }

    [Fact]
    public async Task EndServerSession_AfterTheStreamWasCancelled_EndsItsWalSenderThoughTheSlotIsNoLongerHeld()
    {
        // The server answers a cancelled stream by leaving the slot (no active pid) while the session stays, and Npgsql's
        // read was seen waiting on it until its receiver timeout: the session is ended by its own process id.
        var shard = await clusters.CreateShardAsync(createReplica: false);
        var slot = $"geo_test_end_{Guid.NewGuid():N}"[..30];
        await using var source = new PgOutputSource(shard.Source, slot, "geo_replication", NullLogger<PgOutputSource>.Instance, TimeProvider.System);
        try
        {
            Assert.NotNull(await source.OpenAsync(storedPosition: null, CancellationToken.None));
            using var stop = new CancellationTokenSource();
            var reading = Task.Run(async () =>
            {
                await foreach (var _ in source.ReadAsync(stop.Token))
                {
                }
            });

            var pid = await Eventually.ValueAsync(
                () => TwoClusters.ScalarAsync<object>(shard.Source, "SELECT active_pid FROM pg_replication_slots WHERE slot_name = @slot", ("slot", slot)),
                active => active is int, CatchUp, "the stream holds its slot");
            await stop.CancelAsync();
            await Eventually.TrueAsync(
                async () => await TwoClusters.ScalarAsync<object>(shard.Source, "SELECT active_pid FROM pg_replication_slots WHERE slot_name = @slot", ("slot", slot)) is DBNull,
                CatchUp, "the server left the slot of the cancelled stream");
            Assert.True(await SessionExistsAsync(shard.Source, (int)pid), "the cancelled stream's session stays until ended");

            await source.EndServerSessionAsync(NullLogger.Instance);

            await Eventually.TrueAsync(async () => !await SessionExistsAsync(shard.Source, (int)pid), CatchUp, "the stream's walsender is ended");
            await Assert.ThrowsAnyAsync<Exception>(() => reading.WaitAsync(CatchUp));
        }
        finally
        {
            await ReplicationSlots.DropAsync(shard.Source, slot, publication: null);
        }
    }

    private static async Task<bool> SessionExistsAsync(string connectionString, int pid) =>
        await TwoClusters.ScalarAsync<bool>(connectionString, "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE pid = @pid)", ("pid", pid));

    [Fact]
    public async Task Retire_DropsSlotAndPublication()
    {
        var shard = await clusters.CreateShardAsync(createReplica: true);
        var replicator = RunningReplicator.Start(shard.Options());
        Assert.True(await ReplicationBarrier.WaitForReplicaAsync(shard.Source, shard.Replica, CatchUp));
        Assert.True(await ReplicationSlots.SlotExistsAsync(shard.Source, replicator.Replicator.SlotName));

        await replicator.RetireAsync(shard.Source);

        Assert.False(await ReplicationSlots.SlotExistsAsync(shard.Source, replicator.Replicator.SlotName));
        Assert.Equal(0L, await TwoClusters.ScalarAsync<long>(shard.Source, "SELECT count(*) FROM pg_publication"));
    }

    [Fact]
    public async Task Status_IdleCaughtUpShard_ReportsNoLagAndConfirmsWalEnd()
    {
        var shard = await clusters.CreateShardAsync(createReplica: true);
        var replicator = RunningReplicator.Start(shard.Options());
        try
        {
            await TwoClusters.ExecuteAsync(shard.Source, "INSERT INTO plans (id, display_name) VALUES ('basic', 'Basic')");
            Assert.True(await ReplicationBarrier.WaitForReplicaAsync(shard.Source, shard.Replica, CatchUp));

            // Caught up and idle: the idle acknowledgement confirms the server's WAL end, so bytes behind drops to near zero.
            var status = await Eventually.ValueAsync(() => Task.FromResult(replicator.Replicator.Status), s => s.LagBytes is not (null or > 1024), CatchUp,
                "the replicator reports at most 1 KiB behind", TimeSpan.FromMilliseconds(100));

            Assert.Equal(ShardState.Streaming, status.State);
            Assert.Equal(0, status.LagSeconds);
            Assert.False(status.LagWarning);
            Assert.InRange(status.LagBytes ?? double.MaxValue, 0, 1024);
        }
        finally
        {
            await replicator.RetireAsync(shard.Source);
        }
    }

    /// <summary>Incompressible text, so PostgreSQL stores it out of line (TOAST).</summary>
    private static string LargeText(int length) => Convert.ToBase64String(RandomNumberGenerator.GetBytes(length))[..length];
}
