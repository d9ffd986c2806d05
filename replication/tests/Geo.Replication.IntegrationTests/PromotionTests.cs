using System.Diagnostics;
using System.Globalization;
using Geo.Engines;
using Geo.Replication.Applying;
using Geo.Replication.Changes;
using Geo.Replication.Hosting;
using Geo.Replication.Promotion;
using Geo.Replication.Verification;
using Geo.Testing;
using Npgsql;
using Xunit.Abstractions;

namespace Geo.Replication.IntegrationTests;

/// <summary>The replica side of a promotion against real clusters and a real pgoutput stream: what the standby heard, stopping its applier, the RPO estimate after the source is killed, and the promotion itself.</summary>
[Collection(TwoClustersGroup.Name)]
public sealed class PromotionTests(TwoClusters clusters, ITestOutputHelper output)
{
    private static readonly TimeSpan CatchUp = TimeSpan.FromSeconds(60);

    /// <summary>Transactions that insert <see cref="RowsPerTransaction"/> rows each, tagged with the transaction's number.</summary>
    private const string TaggedRows = "CREATE TABLE probe_tx (tx integer NOT NULL, n integer NOT NULL, PRIMARY KEY (tx, n))";

    private const int RowsPerTransaction = 500;

    [Fact]
    public async Task Heard_IdleStream_AdvancesWithKeepalivesAndStaysCaughtUp()
    {
        var shard = await clusters.CreateShardAsync();
        var replicator = RunningReplicator.Start(shard.Options());
        try
        {
            await replicator.WaitStreamingAsync();
            await TwoClusters.ExecuteAsync(shard.Source, "INSERT INTO plans (id, display_name) VALUES ('basic', 'Basic')");
            var first = (await Eventually.ValueAsync(() => ReplicaPromotion.ReadPositionAsync(shard.Replica, default),
                p => p is { AppliedCommitTime: not null, HeardPosition: not null, AppliedTransactions: 1 }, CatchUp, "the replica applied the insert and recorded what it heard"))!;

            // WAL written elsewhere on the source server: nothing for this stream, but the walsender decodes past it and reports
            // its WAL end in keepalives.
            var elsewhere = await clusters.Source.CreateDatabaseAsync("elsewhere");
            await TwoClusters.ExecuteAsync(elsewhere, "CREATE TABLE noise (id integer); INSERT INTO noise SELECT generate_series(1, 1000)");
            var walEnd = ParseLsn(await TwoClusters.ScalarAsync<string>(elsewhere, "SELECT pg_current_wal_lsn()::text"));

            var idle = (await Eventually.ValueAsync(() => ReplicaPromotion.ReadPositionAsync(shard.Replica, default),
                p => ParseLsn(p!.HeardPosition) >= walEnd && p.AppliedPosition == p.HeardPosition, CatchUp,
                $"the replica heard the source's WAL end past {Lsn.Format(walEnd)} and, having applied everything, stands there"))!;

            Assert.True(ParseLsn(idle.HeardPosition) > ParseLsn(first.HeardPosition));
            Assert.True(idle.HeardAt > first.HeardAt, $"heard at {idle.HeardAt:O}, first at {first.HeardAt:O}");
            Assert.True(idle.HeardSourceTime > first.HeardSourceTime);
            // Nothing was applied meanwhile: the last commit and the count stay; only the position through which it is complete moved.
            Assert.Equal(first.AppliedCommitTime, idle.AppliedCommitTime);
            Assert.Equal(first.AppliedTransactions, idle.AppliedTransactions);
            var estimate = ReplicaPromotion.Estimate(idle);
            Assert.True(estimate.Known, estimate.Basis);
            Assert.Equal((0d, 0d, 0L), (estimate.Bytes, estimate.Seconds, estimate.Transactions));
        }
        finally
        {
            await replicator.RetireAsync(shard.Source);
        }
    }

    [Fact]
    public async Task Heard_UnderLoad_RecordedWithEveryBatchAlongsideTheAppliedCount()
    {
        const int Rounds = 5, PerRound = 80;
        var shard = await clusters.CreateShardAsync(extraSql: TaggedRows);
        var replicator = RunningReplicator.Start(shard.Options());
        try
        {
            await replicator.WaitStreamingAsync();
            var samples = new List<ReplicaPosition>();
            for (var round = 1; round <= Rounds; round++)
            {
                // Four clients at once, so that batches hold several transactions.
                var from = (round - 1) * PerRound;
                await Task.WhenAll(Enumerable.Range(0, 4).Select(client => Task.Run(async () =>
                {
                    for (var tx = from + client; tx < from + PerRound; tx += 4)
                    {
                        await TwoClusters.ExecuteAsync(shard.Source, "INSERT INTO probe_tx SELECT @tx, n FROM generate_series(1, 5) n", ("tx", tx));
                    }
                })));
                var applied = round * PerRound;
                samples.Add((await Eventually.ValueAsync(() => ReplicaPromotion.ReadPositionAsync(shard.Replica, default), p => p?.AppliedTransactions == applied, CatchUp,
                    $"the replica counts {applied} applied transactions"))!);
                Assert.True(ParseLsn(samples[^1].HeardPosition) >= ParseLsn(samples[^1].AppliedPosition), $"round {round}: {samples[^1]}");
                Assert.True(samples[^1].HeardSourceTime >= samples[^1].AppliedCommitTime,
                    $"round {round}: heard {samples[^1].HeardSourceTime:O} (at {samples[^1].HeardAt:O}) before the applied commit {samples[^1].AppliedCommitTime:O}");
            }

            // What the stream heard was written as the load went, never behind what was applied.
            for (var i = 1; i < samples.Count; i++)
            {
                Assert.True(ParseLsn(samples[i].HeardPosition) > ParseLsn(samples[i - 1].HeardPosition), $"round {i + 1}: {samples[i]} after {samples[i - 1]}");
                Assert.True(samples[i].HeardAt > samples[i - 1].HeardAt, $"round {i + 1}: {samples[i]} after {samples[i - 1]}");
            }

            Assert.Equal(Rounds * PerRound * 5L, await TwoClusters.ScalarAsync<long>(shard.Replica, "SELECT count(*) FROM probe_tx"));
        }
        finally
        {
            await replicator.RetireAsync(shard.Source);
        }
    }

    [Fact]
    public async Task StopApplier_StreamStillRunning_TerminatesTheSessionAndLeavesWholeTransactions()
    {
        var shard = await clusters.CreateShardAsync(extraSql: TaggedRows);
        var replicator = RunningReplicator.Start(shard.Options());
        using var stopLoad = new CancellationTokenSource();
        var load = Task.Run(() => TaggedLoadAsync(shard.Source, stopLoad.Token));
        try
        {
            await replicator.WaitStreamingAsync();
            await Eventually.TrueAsync(() => replicator.Replicator.Status.AppliedTransactions >= 5, CatchUp, "the replica applies the load");
            var appliers = await ApplierPidsAsync(shard.Replica);
            Assert.NotEmpty(appliers);

            // As for a stream whose replicator cannot see the directory: nothing stops it but the promotion.
            var terminated = await ReplicaPromotion.StopApplierAsync(shard.Replica, TimeSpan.Zero, default);

            Assert.True(terminated >= 1, $"terminated {terminated}");
            Assert.Equal(0L, await TwoClusters.ScalarAsync<long>(shard.Replica, "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(@pids)", ("pids", appliers)));
            Assert.Equal(0L, await TwoClusters.ScalarAsync<long>(shard.Replica, $"SELECT count(*) FROM (SELECT tx FROM probe_tx GROUP BY tx HAVING count(*) <> {RowsPerTransaction}) torn"));
            Assert.True(await TwoClusters.ScalarAsync<long>(shard.Replica, "SELECT count(DISTINCT tx) FROM probe_tx") >= 5);
        }
        finally
        {
            await stopLoad.CancelAsync();
            await load;
            await replicator.RetireAsync(shard.Source);
        }

        Assert.Equal(0L, await TwoClusters.ScalarAsync<long>(shard.Replica, $"SELECT count(*) FROM (SELECT tx FROM probe_tx GROUP BY tx HAVING count(*) <> {RowsPerTransaction}) torn"));
    }

    [Fact]
    public async Task StopApplier_ReplicatorStopsTheStreamWhileItWaits_NothingTerminated()
    {
        var shard = await clusters.CreateShardAsync();
        var replicator = RunningReplicator.Start(shard.Options());
        await replicator.WaitStreamingAsync();
        Assert.NotEmpty(await ApplierPidsAsync(shard.Replica));

        // The directory marks the shard promoting: the replicator stops the stream by itself.
        var stopping = ReplicaPromotion.StopApplierAsync(shard.Replica, TimeSpan.FromMinutes(1), default);
        await replicator.RetireAsync(shard.Source);

        Assert.Equal(0, await stopping);
        Assert.Empty(await ApplierPidsAsync(shard.Replica));
    }

    [Fact]
    public async Task SourceKilled_UnderLoad_MissingCommitsAreThoseAfterTheAppliedOneAndTheEstimateIsWithinBounds()
    {
        // The owner region's server as in production: a commit is acknowledged once it is in the WAL; commit times are kept
        // (track_commit_timestamp) so the truth can be read back after the crash.
        await using var owner = await TestPostgres.StartAsync(new Dictionary<string, string> { ["synchronous_commit"] = "on", ["track_commit_timestamp"] = "on" });
        var shard = await clusters.CreateShardAsync(sourceCluster: owner);
        const int Subscribers = 100;
        const long Opening = 1_000_000_000;
        await TwoClusters.ExecuteAsync(shard.Source, $"""
            INSERT INTO plans (id, display_name) VALUES ('prepaid', 'Prepaid');
            INSERT INTO nas_devices (id, address, secret_enc) VALUES ('bng-1', '192.0.2.1', '\x00');
            INSERT INTO subscribers (id, username, password_enc, plan_id)
            SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, 'user' || g, '\x00', 'prepaid' FROM generate_series(1, {Subscribers}) g;
            INSERT INTO balances (subscriber_id, amount_micros) SELECT id, {Opening} FROM subscribers;
            INSERT INTO sessions (id, nas_id, acct_session_id, subscriber_id, username, started_at, last_update_at)
            SELECT gen_random_uuid(), 'bng-1', 'acct-' || username, id, username, now(), now() FROM subscribers;
            """);
        var sessions = new List<(Guid Session, Guid Subscriber)>();
        await using (var connection = new NpgsqlConnection(shard.Source))
        {
            await connection.OpenAsync();
            await using var read = new NpgsqlCommand("SELECT id, subscriber_id FROM sessions ORDER BY username", connection);
            await using var reader = await read.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                sessions.Add((reader.GetGuid(0), reader.GetGuid(1)));
            }
        }

        var replicator = RunningReplicator.Start(shard.Options());
        await replicator.WaitStreamingAsync();

        // About 1,000 accounting transactions/s (an interim update: the session's counters, a CDR, the balance) from 4 clients.
        const int Workers = 4;
        using var stopLoad = new CancellationTokenSource();
        var acknowledged = 0;
        var workers = Enumerable.Range(0, Workers)
            .Select(w => Task.Run(() => AccountingLoadAsync(shard.Source, sessions.Where((_, i) => i % Workers == w).ToArray(), TimeSpan.FromMilliseconds(4), stopLoad.Token)))
            .ToArray();
        try
        {
            await Eventually.TrueAsync(() => replicator.Replicator.Status.AppliedTransactions >= 2_000, CatchUp, "the replica applies 2,000 accounting transactions",
                context: () => replicator.Replicator.Status.ToString());

            // The owner region is lost: every process of its server killed at once.
            await KillServerAsync(owner);
            acknowledged = (await Task.WhenAll(workers)).Sum();
            await Eventually.TrueAsync(() => replicator.Replicator.Status.State != ShardState.Streaming, CatchUp, "the replicator notices the source is gone");
        }
        finally
        {
            await stopLoad.CancelAsync();
            await Task.WhenAll(workers);
            // The directory marks the shard promoting: its replicator stops the stream.
            await replicator.DisposeAsync();
        }

        Assert.Equal(0, await ReplicaPromotion.StopApplierAsync(shard.Replica, TimeSpan.FromSeconds(10), default));
        var position = await ReplicaPromotion.ReadPositionAsync(shard.Replica, default);
        Assert.NotNull(position);
        var estimate = ReplicaPromotion.Estimate(position);
        var appliedCommit = position.AppliedCommitTime ?? throw new InvalidOperationException("no commit applied");

        // The truth, from the owner's own rows once it is back (crash recovery).
        await owner.RestartAsync();
        var sourceCommits = await CdrCommitTimesAsync(shard.Source);
        var replicaCdrs = (await ReadIdsAsync(shard.Replica, "SELECT id FROM cdrs")).ToHashSet();
        var missing = sourceCommits.Where(c => !replicaCdrs.Contains(c.Key)).Select(c => c.Value).Order().ToList();
        var trueSpan = missing.Count == 0 ? 0 : (missing[^1] - appliedCommit).TotalSeconds;
        var bound = trueSpan < 0.25 ? 0.05 : 0.2 * trueSpan;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"source: {sourceCommits.Count} accounting transactions ({acknowledged} acknowledged to the clients); replica: {replicaCdrs.Count} ({position.AppliedTransactions} applied by streaming); lost: {missing.Count}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"applied {position.AppliedPosition} committed {appliedCommit:O}; heard {position.HeardPosition} at {position.HeardSourceTime:O} (source clock), {position.HeardAt:O} (local)"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"estimate: {estimate.Seconds * 1000:F1} ms, {estimate.Bytes} bytes, transactions {estimate.Transactions?.ToString(CultureInfo.InvariantCulture) ?? "unknown"}; true span of the lost commits: {trueSpan * 1000:F1} ms (bound ±{bound * 1000:F0} ms)"));
        output.WriteLine(estimate.Basis);

        // Every applied row is the owner's, whole transactions only, and what is missing is what committed after the last applied
        // commit. Commit times are stamped just before the commit record enters the WAL, so two concurrent commits can carry them in
        // the other order than the WAL (and the stream) has them: by microseconds, allowed for here.
        var jitter = TimeSpan.FromMilliseconds(2);
        Assert.True(sourceCommits.Count >= 2_000, $"{sourceCommits.Count} accounting transactions on the source");
        Assert.DoesNotContain(replicaCdrs, id => !sourceCommits.ContainsKey(id));
        Assert.DoesNotContain(sourceCommits, c => replicaCdrs.Contains(c.Key) && c.Value > appliedCommit + jitter);
        Assert.DoesNotContain(missing, at => at < appliedCommit - jitter);
        Assert.Equal(0L, await TwoClusters.ScalarAsync<long>(shard.Replica, $"""
            SELECT count(*) FROM balances b
            WHERE b.amount_micros <> {Opening} - (SELECT coalesce(sum(c.charged_micros), 0) FROM cdrs c WHERE c.subscriber_id = b.subscriber_id)
               OR (SELECT s.input_octets FROM sessions s WHERE s.subscriber_id = b.subscriber_id) <> 1000 * (SELECT count(*) FROM cdrs c WHERE c.subscriber_id = b.subscriber_id)
            """));
        Assert.True(estimate.Known, estimate.Basis);
        Assert.True(Math.Abs(estimate.Seconds - trueSpan) <= bound,
            string.Create(CultureInfo.InvariantCulture, $"estimate {estimate.Seconds * 1000:F1} ms, truth {trueSpan * 1000:F1} ms, bound ±{bound * 1000:F0} ms"));
    }

    [Fact]
    public async Task Promote_WithStaleStream_WritableFencedIdempotentAndTheStreamWritesNothing()
    {
        // A serial column: the tenant schema has none, but a promoted copy must not hand out ids it already holds.
        const string Serial = "CREATE TABLE probe_serial (id bigserial PRIMARY KEY, note text NOT NULL)";
        var shard = await clusters.CreateShardAsync(extraSql: Serial);
        var stale = RunningReplicator.Start(shard.Options());
        RunningReplicator? restarted = null;
        try
        {
            await stale.WaitStreamingAsync();
            await TwoClusters.ExecuteAsync(shard.Source, "INSERT INTO probe_serial (note) SELECT 'before' FROM generate_series(1, 10); INSERT INTO plans (id, display_name) VALUES ('basic', 'Basic')");
            Assert.True(await ReplicationBarrier.WaitForReplicaAsync(shard.Source, shard.Replica, CatchUp));
            await ReplicaPromotion.StopApplierAsync(shard.Replica, TimeSpan.Zero, default);

            Assert.True(await ReplicaPromotion.PromoteAsync(shard.Replica, shard.TenantId, "a", "b", 2, default));

            await using (var connection = await OpenUnpooledAsync(shard.Replica))
            {
                Assert.Equal(11L, await ScalarAsync<long>(connection, "INSERT INTO probe_serial (note) VALUES ('after') RETURNING id"));
                Assert.Equal("b:2", await ScalarAsync<string>(connection, "SELECT owner_region || ':' || epoch FROM shard_fence"));
            }

            var promoted = await ReplicaPromotion.ReadPositionAsync(shard.Replica, default);
            Assert.NotNull(promoted?.PromotedAt);
            var fenceWritten = await TwoClusters.ScalarAsync<DateTime>(shard.Replica, "SELECT updated_at FROM shard_fence");

            // Again (a crash after the commit, or an operator repeating it): nothing changes.
            Assert.False(await ReplicaPromotion.PromoteAsync(shard.Replica, shard.TenantId, "a", "b", 2, default));
            Assert.Equal(promoted, await ReplicaPromotion.ReadPositionAsync(shard.Replica, default));
            Assert.Equal(fenceWritten, await TwoClusters.ScalarAsync<DateTime>(shard.Replica, "SELECT updated_at FROM shard_fence"));
            // Never lowered, never handed to another region at the same epoch, never for another shard.
            await Assert.ThrowsAsync<ReplicationException>(() => ReplicaPromotion.PromoteAsync(shard.Replica, shard.TenantId, "a", "b", 1, default));
            await Assert.ThrowsAsync<ReplicationException>(() => ReplicaPromotion.PromoteAsync(shard.Replica, shard.TenantId, "a", "c", 2, default));
            await Assert.ThrowsAsync<ReplicationException>(() => ReplicaPromotion.PromoteAsync(shard.Replica, "someone-else", "a", "b", 3, default));

            // The stale replicator (it cannot see the directory) reconnected after the termination; another one starts against the
            // promoted replica. The old owner keeps writing: none of it may land in the new owner's database.
            restarted = RunningReplicator.Start(shard.Options());
            await TwoClusters.ExecuteAsync(shard.Source, "INSERT INTO probe_serial (note) SELECT 'stale' FROM generate_series(1, 10); INSERT INTO plans (id, display_name) VALUES ('stale', 'Stale')");
            foreach (var replicator in new[] { stale, restarted })
            {
                await Eventually.TrueAsync(() => replicator.Replicator.Status.LastError?.Contains("was promoted", StringComparison.Ordinal) == true, CatchUp,
                    "the stream refuses the promoted replica", context: () => replicator.Replicator.Status.ToString());
            }

            Assert.Equal(0L, await TwoClusters.ScalarAsync<long>(shard.Replica, "SELECT count(*) FROM probe_serial WHERE note = 'stale'"));
            Assert.Equal(0L, await TwoClusters.ScalarAsync<long>(shard.Replica, "SELECT count(*) FROM plans WHERE id = 'stale'"));
            Assert.Equal(promoted, await ReplicaPromotion.ReadPositionAsync(shard.Replica, default));
            // The restarted replicator did not make the new owner's database read-only again.
            await using (var connection = await OpenUnpooledAsync(shard.Replica))
            {
                Assert.Equal(12L, await ScalarAsync<long>(connection, "INSERT INTO probe_serial (note) VALUES ('still writable') RETURNING id"));
            }
        }
        finally
        {
            if (restarted is not null)
            {
                await restarted.DisposeAsync();
            }

            await stale.RetireAsync(shard.Source);
        }
    }

    /// <summary>Transactions of <see cref="RowsPerTransaction"/> tagged rows each until cancelled.</summary>
    private static async Task TaggedLoadAsync(string source, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(source);
        await connection.OpenAsync(cancellationToken);
        try
        {
            for (var tx = 0; !cancellationToken.IsCancellationRequested; tx++)
            {
                await using var insert = new NpgsqlCommand($"INSERT INTO probe_tx SELECT $1, n FROM generate_series(1, {RowsPerTransaction}) n", connection);
                insert.Parameters.Add(new NpgsqlParameter<int> { TypedValue = tx });
                await insert.ExecuteNonQueryAsync(cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// Interim accounting at one transaction per <paramref name="interval"/> (open loop) over <paramref name="sessions"/>, until the
    /// server goes away or the test cancels; returns how many commits were acknowledged.
    /// </summary>
    private static async Task<int> AccountingLoadAsync(string source, (Guid Session, Guid Subscriber)[] sessions, TimeSpan interval, CancellationToken cancellationToken)
    {
        var acknowledged = 0;
        try
        {
            await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(source) { Pooling = false }.ConnectionString);
            await connection.OpenAsync(cancellationToken);
            var clock = Stopwatch.StartNew();
            for (var i = 0; ; i++)
            {
                // Pacing the load, not waiting for anything.
                var due = interval * i - clock.Elapsed;
                if (due > TimeSpan.Zero)
                {
                    await Task.Delay(due, cancellationToken);
                }

                var (session, subscriber) = sessions[i % sessions.Length];
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                await using var batch = new NpgsqlBatch(connection, transaction)
                {
                    BatchCommands =
                    {
                        Command("UPDATE sessions SET input_octets = input_octets + 1000, last_update_at = now() WHERE id = $1", session),
                        Command("""
                            INSERT INTO cdrs (id, session_id, subscriber_id, kind, event_time, input_octets, output_octets, session_time_s, charged_micros)
                            VALUES ($1, $2, $3, 'interim', now(), 1000, 0, 0, 1000)
                            """, Guid.CreateVersion7(), session, subscriber),
                        Command("UPDATE balances SET amount_micros = amount_micros - 1000, updated_at = now() WHERE subscriber_id = $1", subscriber),
                    },
                };
                await batch.ExecuteNonQueryAsync(cancellationToken);
                await transaction.CommitAsync(cancellationToken);
                acknowledged++;
            }
        }
        catch (Exception ex) when (ex is NpgsqlException or IOException or OperationCanceledException or InvalidOperationException)
        {
            // The server was killed (or the test ended): the load ends with it.
            return acknowledged;
        }
    }

    private static NpgsqlBatchCommand Command(string sql, params object[] values)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var value in values)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }

        return command;
    }

    /// <summary>Kills the postmaster and every process it started with one SIGKILL each, as a lost machine would stop them.</summary>
    private static async Task KillServerAsync(TestPostgres cluster)
    {
        var postmaster = cluster.Cluster.ServerPid ?? throw new InvalidOperationException("the server is not running");
        var pids = new List<string> { postmaster.ToString(CultureInfo.InvariantCulture) };
        foreach (var directory in System.IO.Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so read after its closing parenthesis.
                var stat = await File.ReadAllTextAsync(Path.Combine(directory, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (int.Parse(fields[1], CultureInfo.InvariantCulture) == postmaster)
                {
                    pids.Add(pid.ToString(CultureInfo.InvariantCulture));
                }
            }
            catch (IOException)
            {
                // The process ended meanwhile.
            }
        }

        var kill = await ProcessRunner.RunAsync("kill", ["-KILL", "--", .. pids]);
        Assert.True(kill.Succeeded, kill.Output);
        // Gone, not just dead: until a zombie is reaped, its pid still holds the data directory's lock file for a new postmaster.
        await Eventually.TrueAsync(() => pids.All(pid => !System.IO.Directory.Exists($"/proc/{pid}")), TimeSpan.FromSeconds(30), "the server's processes are gone");
    }

    private static async Task<Dictionary<Guid, DateTimeOffset>> CdrCommitTimesAsync(string source)
    {
        var commits = new Dictionary<Guid, DateTimeOffset>();
        await using var connection = new NpgsqlConnection(source);
        await connection.OpenAsync();
        await using var read = new NpgsqlCommand("SELECT id, pg_xact_commit_timestamp(xmin) FROM cdrs", connection);
        await using var reader = await read.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            commits.Add(reader.GetGuid(0), new DateTimeOffset(reader.GetDateTime(1), TimeSpan.Zero));
        }

        return commits;
    }

    private static async Task<List<Guid>> ReadIdsAsync(string connectionString, string sql)
    {
        var ids = new List<Guid>();
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var read = new NpgsqlCommand(sql, connection);
        await using var reader = await read.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            ids.Add(reader.GetGuid(0));
        }

        return ids;
    }

    private static async Task<int[]> ApplierPidsAsync(string replica) =>
        await TwoClusters.ScalarAsync<int[]>(replica,
            "SELECT coalesce(array_agg(pid), '{}') FROM pg_stat_activity WHERE datname = current_database() AND application_name = @name",
            ("name", ReplicaApplier.ApplicationName));

    /// <summary>A new session (the read-only default applies to sessions opened after it changed).</summary>
    private static async Task<NpgsqlConnection> OpenUnpooledAsync(string connectionString)
    {
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        return connection;
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    private static ulong ParseLsn(string? text) => Lsn.TryParse(text, out var lsn) ? lsn : throw new FormatException($"'{text}' is not an LSN");
}
