using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Geo.Engines;
using Geo.Engines.Postgres;
using Geo.LoadTests.Measurement;
using Geo.Replication.Hosting;
using Geo.Replication.Verification;
using Geo.Schema;
using Geo.Schema.Migrations;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Geo.LoadTests.Replication;

/// <summary>
/// <c>geo-load replication</c>: owner and standby PostgreSQL clusters, accounting-like traffic, the pgoutput source and
/// applier in-process, open loop at a rate (<c>--rate 0</c>: closed loop). Prints changes/s applied and lag percentiles
/// (source commit to replica commit).
/// </summary>
internal static class ReplicationBenchmark
{
    public static Command Create()
    {
        var rate = new Option<int>("--rate") { Description = "Offered row changes per second (open loop); 0 = as fast as the writers go", DefaultValueFactory = _ => 5_000 };
        var duration = new Option<double>("--duration") { Description = "Measured seconds", DefaultValueFactory = _ => 30 };
        var warmup = new Option<double>("--warmup") { Description = "Unmeasured seconds first", DefaultValueFactory = _ => 5 };
        var perTransaction = new Option<int>("--changes-per-transaction") { Description = "Row changes per source transaction (even: session update + CDR insert pairs)", DefaultValueFactory = _ => 4 };
        var backlog = new Option<int>("--backlog") { Description = "First measure catch-up: write this many changes while the replicator is stopped, then time how fast it applies them", DefaultValueFactory = _ => 0 };
        var writers = new Option<int>("--writers") { Description = "Writer connections at the source (each commit waits for its fsync: enough writers to offer the rate)", DefaultValueFactory = _ => 16 };
        var command = new Command("replication", "CDC throughput and lag: two private PostgreSQL clusters, the pgoutput source and the applier; prints changes/s and lag percentiles")
        {
            rate, duration, warmup, perTransaction, writers, backlog,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var settings = new Settings(result.GetValue(rate), TimeSpan.FromSeconds(result.GetValue(duration)), TimeSpan.FromSeconds(result.GetValue(warmup)),
                Math.Max(2, result.GetValue(perTransaction) / 2 * 2), Math.Max(1, result.GetValue(writers)), Math.Max(0, result.GetValue(backlog)));
            return await RunAsync(settings, Console.Out, cancellationToken);
        });
        return command;
    }

    private static async Task<int> RunAsync(Settings settings, TextWriter output, CancellationToken cancellationToken)
    {
        var folder = System.IO.Directory.CreateTempSubdirectory("geo-load-replication-").FullName;
        File.SetUnixFileMode(folder, (UnixFileMode)0b111_101_101);
        var stopwatch = Stopwatch.StartNew();
        var clusters = await Task.WhenAll(
            PostgresCluster.StartAsync(new PostgresClusterOptions { Directory = Path.Combine(folder, "a"), Durable = true }, cancellationToken),
            PostgresCluster.StartAsync(new PostgresClusterOptions { Directory = Path.Combine(folder, "b"), Durable = true }, cancellationToken));

        // Stops both clusters and removes the folder however this process ends.
        using var reaper = Reaper.Start($"{clusters[0].DestroyScript()}; {clusters[1].DestroyScript()}; rm -rf {Shell.Quote(folder)}");
        var database = ShardDatabase.Name("bench", "a");
        var source = clusters[0].ConnectionString(database);
        var replica = clusters[1].ConnectionString(database);
        foreach (var cluster in clusters)
        {
            await ExecuteAsync(cluster.ConnectionString(), $"CREATE DATABASE {ShardDatabase.Quote(database)}", cancellationToken);
            await new MigrationRunner().ApplyAsync(cluster.ConnectionString(database), MigrationSet.Tenant, cancellationToken);
        }

        var sessions = await SeedAsync(source, cancellationToken);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"geo-load replication: clusters a:{clusters[0].Port} and b:{clusters[1].Port} (durable) ready in {stopwatch.Elapsed.TotalSeconds:F1} s; " +
            $"{(settings.Rate > 0 ? $"open loop at {settings.Rate} changes/s" : "closed loop, full speed")}, {settings.ChangesPerTransaction} changes per transaction, {settings.Writers} writers"));

        var window = new Window();
        var recorder = new LatencyRecorder();
        var lagSamples = recorder.CreateLocal();
        long appliedInWindow = 0;
        var replicator = new ShardReplicator(
            new ShardReplicationOptions { Name = "bench@a", SourceConnectionString = source, ReplicaConnectionString = replica },
            new ReplicatorOptions { Region = "b" }, NullLoggerFactory.Instance, TimeProvider.System)
        {
            // One callback per replica commit, on the applier's task.
            Applied = batch =>
            {
                foreach (var commit in batch.CommitTimes)
                {
                    if (window.Contains(commit))
                    {
                        lagSamples.Record(Math.Max(0, (long)((batch.AppliedAt - commit).TotalMicroseconds)));
                    }
                }

                if (window.Contains(batch.AppliedAt))
                {
                    Interlocked.Add(ref appliedInWindow, batch.Changes);
                }
            },
        };
        if (settings.Backlog > 0)
        {
            await MeasureCatchUpAsync(replicator, source, replica, sessions, settings, output, cancellationToken);
        }

        using var stopReplicator = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var replicating = replicator.RunAsync(stopReplicator.Token);
        while (replicator.Status.State != ShardState.Streaming)
        {
            await Task.Delay(20, cancellationToken);
        }

        using var stopLoad = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var counts = new long[1];
        var started = Stopwatch.GetTimestamp();
        var load = Enumerable.Range(0, settings.Writers)
            .Select(w => WriteAsync(source, sessions, settings, w, started, counts, window, stopLoad.Token))
            .ToArray();
        await Task.Delay(settings.Warmup, cancellationToken);
        window.Begin(DateTimeOffset.UtcNow);
        await Task.Delay(settings.Duration, cancellationToken);
        window.End(DateTimeOffset.UtcNow);
        await stopLoad.CancelAsync();
        var late = (await Task.WhenAll(load)).Sum();

        var drain = Stopwatch.StartNew();
        var caughtUp = await ReplicationBarrier.WaitForReplicaAsync(source, replica, TimeSpan.FromMinutes(5), cancellationToken: cancellationToken);
        var drained = drain.Elapsed;
        await stopReplicator.CancelAsync();
        await replicating;
        lagSamples.Flush();

        var seconds = window.Length.TotalSeconds;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  source: {Interlocked.Read(ref counts[0]) / seconds:F0} changes/s committed over {seconds:F1} s{(settings.Rate > 0 ? $" (offered {settings.Rate}/s, {late} transactions sent late)" : "")}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  applier: {Interlocked.Read(ref appliedInWindow) / seconds:F0} changes/s applied (sustained, same window)"));
        output.WriteLine($"  lag (source commit -> replica commit): {recorder.Summary()}");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  drained {(caughtUp ? "in" : "NOT within")} {drained.TotalSeconds:F2} s after the load stopped; {replicator.Status.AppliedTransactions} transactions, {replicator.Status.AppliedChanges} changes applied in all"));

        await clusters[0].StopAsync(cancellationToken: CancellationToken.None);
        await clusters[1].StopAsync(cancellationToken: CancellationToken.None);
        return caughtUp ? 0 : 1;
    }

    /// <summary>
    /// The applier's top speed: a backlog written while the replicator is stopped (after its slot exists), then
    /// applied with no writer running, so this process's CPU time is the replicator's alone.
    /// </summary>
    private static async Task MeasureCatchUpAsync(ShardReplicator replicator, string source, string replica, Guid[] sessions, Settings settings, TextWriter output, CancellationToken cancellationToken)
    {
        using (var seed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            var seeding = replicator.RunAsync(seed.Token);
            while (replicator.Status.State != ShardState.Streaming)
            {
                await Task.Delay(20, cancellationToken);
            }

            await seed.CancelAsync();
            await seeding;
        }

        var counts = new long[1];
        var always = new Window();
        always.Begin(DateTimeOffset.MinValue);
        using (var stopBacklog = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            var closedLoop = settings with { Rate = 0 };
            var writing = Enumerable.Range(0, settings.Writers).Select(w => WriteAsync(source, sessions, closedLoop, w, Stopwatch.GetTimestamp(), counts, always, stopBacklog.Token)).ToArray();
            while (Interlocked.Read(ref counts[0]) < settings.Backlog)
            {
                await Task.Delay(50, cancellationToken);
            }

            await stopBacklog.CancelAsync();
            await Task.WhenAll(writing);
        }

        var backlog = Interlocked.Read(ref counts[0]);
        var before = replicator.Status.AppliedChanges;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var running = replicator.RunAsync(stop.Token);
        var caughtUp = await ReplicationBarrier.WaitForReplicaAsync(source, replica, TimeSpan.FromMinutes(10), cancellationToken: cancellationToken);
        var elapsed = clock.Elapsed;
        var used = Process.GetCurrentProcess().TotalProcessorTime - cpu;
        await stop.CancelAsync();
        await running;
        var applied = replicator.Status.AppliedChanges - before;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  catch-up: {applied} changes (backlog {backlog}) applied in {elapsed.TotalSeconds:F2} s = {applied / elapsed.TotalSeconds:F0} changes/s{(caughtUp ? "" : " (NOT caught up)")}; replicator CPU {used.TotalMicroseconds / Math.Max(1, applied):F1} us/change"));
    }

    /// <summary>
    /// One writer: transaction k of this writer is due at start + (k * writers + w) / transactionRate; a writer
    /// that falls behind sends at once (open loop, counted as late) rather than skipping.
    /// </summary>
    private static async Task<long> WriteAsync(string source, Guid[] sessions, Settings settings, int writer, long started, long[] counts, Window window, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(source);
        await connection.OpenAsync(cancellationToken);
        var random = new Random(writer);
        var transactionRate = settings.Rate / (double)settings.ChangesPerTransaction;
        long late = 0;
        try
        {
            for (long k = 0; !cancellationToken.IsCancellationRequested; k++)
            {
                if (settings.Rate > 0)
                {
                    var due = (k * settings.Writers + writer) / transactionRate;
                    var wait = due - Stopwatch.GetElapsedTime(started).TotalSeconds;
                    if (wait > 0.001)
                    {
                        await Task.Delay(TimeSpan.FromSeconds(wait), cancellationToken);
                    }
                    else if (wait < -0.05)
                    {
                        late++;
                    }
                }

                await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                await using var batch = new NpgsqlBatch(connection, transaction);
                for (var pair = 0; pair < settings.ChangesPerTransaction / 2; pair++)
                {
                    var session = sessions[random.Next(sessions.Length)];
                    var octets = random.Next(1_000, 1_000_000);
                    var update = new NpgsqlBatchCommand("UPDATE sessions SET input_octets = input_octets + $2, output_octets = output_octets + $2, last_update_at = now() WHERE id = $1");
                    update.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = session });
                    update.Parameters.Add(new NpgsqlParameter<long> { TypedValue = octets });
                    batch.BatchCommands.Add(update);
                    var cdr = new NpgsqlBatchCommand(
                        "INSERT INTO cdrs (id, session_id, kind, event_time, input_octets, output_octets, session_time_s, delta_input_octets) VALUES ($1, $2, 'interim', now(), $3, $3, 60, $3)");
                    cdr.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = Guid.CreateVersion7() });
                    cdr.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = session });
                    cdr.Parameters.Add(new NpgsqlParameter<long> { TypedValue = octets });
                    batch.BatchCommands.Add(cdr);
                }

                await batch.ExecuteNonQueryAsync(cancellationToken);
                await transaction.CommitAsync(cancellationToken);
                if (window.Contains(DateTimeOffset.UtcNow))
                {
                    Interlocked.Add(ref counts[0], settings.ChangesPerTransaction);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }

        return late;
    }

    private static async Task<Guid[]> SeedAsync(string source, CancellationToken cancellationToken)
    {
        await ExecuteAsync(source, """
            INSERT INTO plans (id, display_name) VALUES ('bench', 'Bench');
            INSERT INTO nas_devices (id, address, secret_enc) VALUES ('bench-nas', '192.0.2.1', '\x00');
            INSERT INTO subscribers (id, username, password_enc, plan_id) SELECT gen_random_uuid(), 'bench' || g, '\x00', 'bench' FROM generate_series(1, 1000) g;
            INSERT INTO sessions (id, nas_id, acct_session_id, subscriber_id, username, started_at, last_update_at)
            SELECT gen_random_uuid(), 'bench-nas', 'acct-' || username, id, username, now(), now() FROM subscribers;
            """, cancellationToken);
        await using var connection = new NpgsqlConnection(source);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT id FROM sessions", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var ids = new List<Guid>();
        while (await reader.ReadAsync(cancellationToken))
        {
            ids.Add(reader.GetGuid(0));
        }

        return [.. ids];
    }

    private static async Task ExecuteAsync(string connectionString, string sql, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private sealed record Settings(int Rate, TimeSpan Duration, TimeSpan Warmup, int ChangesPerTransaction, int Writers, int Backlog);

    /// <summary>The measured window, in wall-clock time (source commit timestamps come from the same clock).</summary>
    private sealed class Window
    {
        private long _begin = long.MaxValue;
        private long _end = long.MaxValue;

        public TimeSpan Length => TimeSpan.FromTicks(Interlocked.Read(ref _end) - Interlocked.Read(ref _begin));

        public void Begin(DateTimeOffset at) => Interlocked.Exchange(ref _begin, at.UtcTicks);

        public void End(DateTimeOffset at) => Interlocked.Exchange(ref _end, at.UtcTicks);

        public bool Contains(DateTimeOffset at) => at.UtcTicks >= Interlocked.Read(ref _begin) && at.UtcTicks < Interlocked.Read(ref _end);
    }
}
