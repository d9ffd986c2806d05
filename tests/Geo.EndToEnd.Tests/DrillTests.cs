using System.Text.Json;
using Geo.Ctl.LocalStack;
using Geo.Engines.Postgres;
using Geo.Testing;
using Xunit.Abstractions;

namespace Geo.EndToEnd.Tests;

/// <summary>The local stack with enough demo subscribers for a drill's logins (each a different subscriber while one is free).</summary>
public sealed class DrillRegions : TwoRegions
{
    internal override int SubscribersPerShard => 2_000;
}

/// <summary>A drill's stack with automatic failover on (<c>geoctl up --auto-promote-after 3</c>).</summary>
public sealed class AutoPromoteDrillRegions : TwoRegions
{
    internal override int SubscribersPerShard => 2_000;

    internal override TimeSpan? AutoPromoteAfter => TimeSpan.FromSeconds(3);
}

/// <summary>A kill-region drill that waits for automatic failover instead of running <c>dr promote</c>.</summary>
public sealed class AutoPromoteDrillTests(AutoPromoteDrillRegions stack, ITestOutputHelper log) : IClassFixture<AutoPromoteDrillRegions>
{
    [Fact]
    public Task KillRegion_AutomaticFailover_ReportHoldsEveryInvariant() => DrillTests.RunAsync(stack, log, "kill-region", "--promote", "auto");
}

/// <summary>
/// <c>geoctl drill</c> runs each scenario on the running stack, briefly, under load from region a's NAS (each with its
/// primary and backup endpoints, as its generated configuration says): the fault, the promotion (or switchover), the
/// rejoin and the failback, and its report holds the product's promises: no valid subscriber rejected, nobody charged
/// twice, no acknowledged accounting lost, the promotion's RPO estimate within ±20 % (±50 ms under 250 ms) of the RPO the
/// drill measured, a switchover losing nothing. The scenarios run one after the other on one stack, each leaving it home.
/// </summary>
public sealed class DrillTests(DrillRegions stack, ITestOutputHelper log) : IClassFixture<DrillRegions>
{
    [Theory]
    [InlineData("kill-region")]
    [InlineData("kill-database")]
    [InlineData("partition")]
    [InlineData("switchover")]
    public Task Drill_UnderLoad_ReportHoldsEveryInvariant(string scenario) => RunAsync(stack, log, scenario);

    /// <summary>
    /// Against a deployment: a state folder with platform.json and the key files (here the stack's databases, reached only
    /// through the file), a test tenant with its NAS's secret and subscribers from files. Only that tenant's shard is
    /// switched over and back; the other tenant's stays where it was; the report holds the same promises.
    /// </summary>
    [Fact]
    public async Task Switchover_AgainstADeploymentFolder_OnlyTheTestTenantMovesAndTheReportHolds()
    {
        await stack.SeededReplicaAsync("acme", "a", "b");
        var folder = TestFolders.Create("drill-deployment");
        try
        {
            var ops = new StackLayout(Path.Combine(folder, "ops"));
            System.IO.Directory.CreateDirectory(ops.Root);
            var servers = new[] { "a", "b" }.ToDictionary(r => r, r => PostgresCluster.Open(stack.Layout.RegionPostgres(r))!.ConnectionString());
            await File.WriteAllTextAsync(ops.DeploymentFile, JsonSerializer.Serialize(new { directory = stack.DirectoryConnectionString, servers }));
            foreach (var (from, to) in new[] { (stack.Layout.KeyringFile, ops.KeyringFile), (stack.Layout.OperatorKeyFile, ops.OperatorKeyFile), (stack.Layout.InterRegionSecretFile, ops.InterRegionSecretFile) })
            {
                File.Copy(from, to);
            }

            var secret = Path.Combine(folder, "acme-nas.secret");
            File.Copy(stack.Layout.NasSecretFile("acme-bng-a"), secret);
            // The test tenant's subscribers as an operator would list them: active ones only, username,password.
            var active = (await Sql.QueryAsync<string>(stack.ShardConnectionString("acme", "a"), "SELECT username FROM subscribers WHERE status = 'active'")).ToHashSet(StringComparer.Ordinal);
            var subscribers = Path.Combine(folder, "acme-subscribers.csv");
            await File.WriteAllLinesAsync(subscribers, File.ReadLines(stack.Layout.CredentialsFile("geo_acme_a")).Take(1)
                .Concat(File.ReadLines(stack.Layout.CredentialsFile("geo_acme_a")).Skip(1).Where(line => active.Contains(line[..line.IndexOf(',', StringComparison.Ordinal)]))));
            const string ZenithShard = "SELECT owner_region || '@' || epoch FROM shards WHERE tenant_id = 'zenith' AND home_region = 'a'";
            var zenithBefore = await Sql.ScalarAsync<string>(stack.DirectoryConnectionString, ZenithShard);

            var refused = await TwoRegions.GeoctlInAsync(ops.Root, "drill", "--scenario", "kill-region", "--region", "a", "--tenant", "acme");
            var output = Path.Combine(folder, "out");
            var (code, text) = await TwoRegions.GeoctlInAsync(ops.Root, "drill", "--scenario", "switchover", "--region", "a", "--tenant", "acme",
                "--nas-secret-file", secret, "--subscribers-file", subscribers, "--rate", "400", "--auth-rate", "100", "--duration", "10", "--fault-at", "3",
                "--hold", "2", "--interim-interval", "1", "--out", output);
            log.WriteLine(text);

            Assert.Equal(2, refused.Code);
            Assert.Contains("against a deployment", refused.Output, StringComparison.Ordinal);
            Assert.True(File.Exists(Path.Combine(output, "report.json")), $"no report was written:\n{text}");
            using var report = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(output, "report.json")));
            var root = report.RootElement;
            Assert.True(root.GetProperty("logins").GetProperty("answered").GetInt32() >= 200, "the load ran: logins answered");
            Assert.Equal(0, root.GetProperty("logins").GetProperty("rejected").GetInt32());
            Assert.Empty(root.GetProperty("double_charged").EnumerateArray());
            Assert.Equal(0, root.GetProperty("missing_at_end").GetInt64());
            Assert.Equal(0, root.GetProperty("check_ledger_exit").GetInt32());
            Assert.Equal(0, root.GetProperty("verify_exit").GetInt32());
            var rpo = Assert.Single(root.GetProperty("rpo").EnumerateArray());
            Assert.Equal("acme@a", rpo.GetProperty("shard").GetString());
            Assert.Equal(0, rpo.GetProperty("missing").GetInt32());
            Assert.Contains("PASS", text, StringComparison.Ordinal);
            Assert.Equal(0, code);
            Assert.Equal(zenithBefore, await Sql.ScalarAsync<string>(stack.DirectoryConnectionString, ZenithShard));
            Assert.Equal("a", await Sql.ScalarAsync<string>(stack.DirectoryConnectionString, "SELECT owner_region FROM shards WHERE tenant_id = 'acme' AND home_region = 'a'"));
        }
        finally
        {
            System.IO.Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>Runs a short drill of <paramref name="scenario"/> on <paramref name="stack"/> and asserts its report.</summary>
    internal static async Task RunAsync(TwoRegions stack, ITestOutputHelper log, string scenario, params string[] options)
    {
        await stack.SeededReplicaAsync("acme", "a", "b");
        await stack.SeededReplicaAsync("zenith", "a", "b");
        var folder = TestFolders.Create("drill");
        try
        {
            await DrillAsync(stack, log, scenario, Path.Combine(folder, scenario), options);
        }
        finally
        {
            System.IO.Directory.Delete(folder, recursive: true);
        }
    }

    private static async Task DrillAsync(TwoRegions stack, ITestOutputHelper log, string scenario, string output, string[] options)
    {
        var (code, text) = await stack.GeoctlAsync(["drill", "--scenario", scenario, "--region", "a", "--rate", "400", "--auth-rate", "100", "--duration", "12",
            "--fault-at", "3", "--promote-delay", "1", "--hold", "2", "--interim-interval", "1", "--out", output, .. options]);
        log.WriteLine(text);

        Assert.True(File.Exists(Path.Combine(output, "report.json")), $"no report was written:\n{text}");
        using var report = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(output, "report.json")));
        var root = report.RootElement;
        var logins = root.GetProperty("logins");
        var accounting = root.GetProperty("accounting");
        Assert.True(logins.GetProperty("answered").GetInt32() >= 300, "the load ran: logins answered");
        Assert.True(accounting.GetProperty("answered").GetInt32() >= 1_000, "the load ran: accounting acknowledged");
        Assert.Equal(0, logins.GetProperty("rejected").GetInt32());
        Assert.Empty(root.GetProperty("double_charged").EnumerateArray());
        Assert.Equal(0, root.GetProperty("missing_at_end").GetInt64());
        Assert.Equal(0, root.GetProperty("check_ledger_exit").GetInt32());
        Assert.Equal(0, root.GetProperty("verify_exit").GetInt32());
        var rpo = root.GetProperty("rpo").EnumerateArray().ToList();
        Assert.Equal(2, rpo.Count); // acme@a and zenith@a
        if (scenario == "switchover")
        {
            Assert.All(rpo, shard => Assert.Equal(0, shard.GetProperty("missing").GetInt32()));
        }
        else
        {
            Assert.True(root.GetProperty("answered_by_region").TryGetProperty("b", out var atB) && atB.GetInt32() > 0, "region b answered while a could not");
            Assert.Equal(0, root.GetProperty("missing_after_rejoin").GetInt64());
            Assert.True(root.GetProperty("rto_backup_seconds").GetDouble() is > 0 and < 10, "a subscriber was accepted through the backup within 10 s of the fault");
            Assert.All(rpo, shard => Assert.True(shard.GetProperty("estimate_agrees").GetBoolean(),
                $"{shard.GetProperty("shard")}: measured {shard.GetProperty("seconds")} s, estimated {shard.GetProperty("estimated_seconds")}"));
        }

        Assert.Contains("PASS", text, StringComparison.Ordinal);
        Assert.Equal(0, code);
        Assert.Contains("<svg", await File.ReadAllTextAsync(Path.Combine(output, "timeline.svg")), StringComparison.Ordinal);
        Assert.Contains("## Checks", await File.ReadAllTextAsync(Path.Combine(output, "report.md")), StringComparison.Ordinal);
    }
}
