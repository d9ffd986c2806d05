using System.Diagnostics;
using Geo.Directory.Recovery;
using Geo.Directory.Stores.Postgres;
using Geo.Engines.Postgres;
using Geo.Engines.Redis;
using Geo.Engines;
using Geo.Provisioning.Recovery;
using Geo.Replication.Hosting;
using Geo.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Xunit.Abstractions;
using ShardState = Geo.Directory.Shards.ShardState;

namespace Geo.EndToEnd.Tests;

/// <summary>The local stack with automatic failover on in its replicators (<c>geoctl up --auto-promote-after 3</c>).</summary>
public sealed class AutoPromoteRegions : TwoRegions
{
    internal override TimeSpan? AutoPromoteAfter => TimeSpan.FromSeconds(3);
}

/// <summary>
/// Automatic failover: region a is lost whole (node, replicator, PostgreSQL and Redis SIGKILLed); region b's replicator
/// promotes every shard a owned once a's lease has been expired the configured delay. A second decider in region b (an
/// <see cref="AutoPromoter"/> in this process, as a second replicator there would be) sees the same loss at the same time:
/// each shard is still promoted exactly once, the directory's driver lease and epoch being the only voice.
/// </summary>
public sealed class AutoPromoteTests(AutoPromoteRegions stack, ITestOutputHelper log) : IClassFixture<AutoPromoteRegions>
{
    private const string NasAddress = "127.0.10.1"; // acme-bng-a's address: a NAS is known by its address

    [Fact]
    public async Task RegionALostWhole_BPromotesEachShardOnce_EvenWithASecondDecider()
    {
        string[] tenants = ["acme", "zenith"];
        foreach (var tenant in tenants)
        {
            await stack.SeededReplicaAsync(tenant, "a", "b");
        }

        await using var directory = new PostgresDirectoryStore(stack.DirectoryConnectionString);
        var before = (await directory.LoadAsync(default)).Shards.Where(s => s.OwnerRegion == "a" && s.StandbyRegion == "b").ToDictionary(s => s.Key);
        Assert.Equal(tenants.Order(), before.Keys.Select(k => k.TenantId).Order());

        var replicator = new ReplicatorOptions { Region = "b" };
        replicator.Directory.ConnectionString = stack.DirectoryConnectionString;
        foreach (var (region, server) in stack.Servers)
        {
            replicator.Directory.Servers[region] = server;
        }

        using var loggers = LoggerFactory.Create(builder => builder.AddProvider(new TestOutputLoggerProvider(log)));
        using var second = new AutoPromoter(Options.Create(new AutoPromoteOptions { AutoPromote = true, AutoPromoteAfter = stack.AutoPromoteAfter!.Value }),
            Options.Create(replicator), loggers.CreateLogger<AutoPromoter>(), TimeProvider.System);
        await second.StartAsync(CancellationToken.None);

        var lost = Stopwatch.StartNew();
        foreach (var pid in new[]
        {
            stack.RegionNode("a").Pid, stack.Replicator("a").Pid,
            PostgresCluster.Open(stack.Layout.RegionPostgres("a"))!.ServerPid, RedisServer.Open(stack.Layout.RegionRedis("a"))!.Pid,
        })
        {
            ProcessTree.Kill(pid!.Value);
        }

        foreach (var (key, shard) in before)
        {
            var promoted = await Eventually.ValueAsync(async () => (await directory.LoadAsync(default)).Shards.Single(s => s.Key == key),
                s => s is { OwnerRegion: "b", State: ShardState.Active }, TimeSpan.FromSeconds(90), $"{key} is promoted to b automatically");
            log.WriteLine($"{key}: owner b at epoch {promoted.Epoch}, {lost.Elapsed.TotalSeconds:F1} s after region a was lost");
            Assert.Equal(((string?)null, shard.Epoch + 2), (promoted.StandbyRegion, promoted.Epoch));
        }

        foreach (var key in before.Keys)
        {
            // The directory names b the owner at step 6; the promotion records "done" once b's nodes serve it (step 7).
            var events = await Eventually.ValueAsync(() => directory.ListDrEventsAsync(key, 500, default), e => e.Any(x => x.Step == "done"),
                TimeSpan.FromSeconds(30), $"the promotion of {key} records its end");
            log.WriteLine(string.Join('\n', events.Select(e => $"  {key} {e.Step} {e.Outcome} {e.Operator} {e.Detail}")));
            var start = Assert.Single(events, e => e.Step == "start" && e.Outcome == DrOutcomes.Started);
            Assert.Single(events, e => e.Step == "done" && e.Outcome == DrOutcomes.Done);
            Assert.Contains("automatic", start.Operator, StringComparison.Ordinal);
        }

        // A subscriber of acme@a logs in at b, its owner now (a NAS retries what goes unanswered meanwhile; never a reject).
        var (user, password) = stack.Subscriber("acme", "a", 7);
        var answers = new List<string>();
        await Eventually.TrueAsync(async () =>
        {
            answers.Add(await Nas.LoginAsync(stack.RadiusAuth("b"), user, password, stack.NasSecret("acme-bng-a"), NasAddress));
            return answers[^1] == "accept";
        }, TimeSpan.FromSeconds(30), "a subscriber of acme@a logs in at b");
        log.WriteLine($"logins at b after the promotion: {string.Join(", ", answers)}; accepted {lost.Elapsed.TotalSeconds:F1} s after region a was lost");
        Assert.DoesNotContain("reject", answers);

        // The second decider stops only now: one stopped mid-promotion would leave its last step unrecorded.
        await second.StopAsync(CancellationToken.None);

        // Billing holds in the promoted shards, read where they are owned now (region a is still down).
        var (code, ledger) = await stack.GeoctlAsync("check-ledger");
        log.WriteLine(ledger);
        Assert.True(code == 0, ledger);
        Assert.Contains("geo_acme_a (in region b): every balance equals its ledger", ledger, StringComparison.Ordinal);
    }
}

/// <summary>Log lines of in-process services into a test's output (while the test runs).</summary>
internal sealed class TestOutputLoggerProvider(ITestOutputHelper output) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new Logger(output, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(ITestOutputHelper output, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            try
            {
                output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {category}: {formatter(state, exception)}");
            }
            catch (InvalidOperationException)
            {
                // The test is over.
            }
        }
    }
}
