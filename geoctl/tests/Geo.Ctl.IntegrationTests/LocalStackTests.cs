using System.Globalization;
using Geo.Ctl.LocalStack;
using Geo.Engines;
using Geo.Engines.Postgres;
using Geo.Engines.Redis;
using Geo.Schema.Secrets;
using Geo.Testing;
using Npgsql;

namespace Geo.Ctl.IntegrationTests;

/// <summary>geoctl up/status/down against real PostgreSQL and Redis processes, through the command line parser.</summary>
public sealed class LocalStackTests : GeoCtlRun
{
    private const int Subscribers = 120;

    public LocalStackTests()
        : base("stack")
    {
    }

    [Fact]
    public async Task Up_FreshState_BothRegionsAndDirectoryServeDemoData()
    {
        await Succeeds("up", "--subscribers", Subscribers.ToString(CultureInfo.InvariantCulture));

        var layout = new StackLayout(StateDir);
        foreach (var region in new[] { "a", "b" })
        {
            var cluster = PostgresCluster.Open(layout.RegionPostgres(region))!;
            var databases = await Sql.QueryAsync<string>(cluster.ConnectionString(),
                "SELECT datname FROM pg_database WHERE datname LIKE 'geo\\_%' AND datname <> 'geo_journal' ORDER BY datname");
            // Each region holds its own shards and, kept by its replicator, the replicas of the other region's (and the
            // node's survivability journal, created by the node when it starts).
            Assert.Equal(["geo_acme_a", "geo_acme_b", "geo_zenith_a", "geo_zenith_b"], databases);
            foreach (var database in new[] { $"geo_acme_{region}", $"geo_zenith_{region}" })
            {
                Assert.Equal([(long)Subscribers], await Sql.QueryAsync<long>(cluster.ConnectionString(database), "SELECT count(*) FROM subscribers"));
                // The ledger invariant holds from the first row on: every balance is the sum of its ledger.
                Assert.Empty(await Sql.QueryAsync<Guid>(cluster.ConnectionString(database), """
                    SELECT b.subscriber_id FROM balances b
                    LEFT JOIN (SELECT subscriber_id, sum(amount_micros) AS total FROM ledger GROUP BY subscriber_id) l USING (subscriber_id)
                    WHERE b.amount_micros <> coalesce(l.total, 0)
                    """));
            }

            Assert.True(await RedisServer.Open(layout.RegionRedis(region))!.PingAsync());
        }

        var directory = PostgresCluster.Open(layout.DirectoryPostgres)!.ConnectionString("geo_directory");
        Assert.Equal(
            ["acme@a owner a standby b epoch 1", "acme@b owner b standby a epoch 1", "zenith@a owner a standby b epoch 1", "zenith@b owner b standby a epoch 1"],
            await Sql.QueryAsync<string>(directory, "SELECT tenant_id || '@' || home_region || ' owner ' || owner_region || ' standby ' || standby_region || ' epoch ' || epoch FROM shards ORDER BY 1"));
        Assert.Equal([4L * Subscribers], await Sql.QueryAsync<long>(directory, "SELECT count(*) FROM subscriber_placements"));
        Assert.Equal([0L], await Sql.QueryAsync<long>(directory, "SELECT count(*) FROM nas_devices WHERE backup_region IS NULL OR backup_region = primary_region"));
        Assert.Contains("The local stack is up.", Output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckLedger_SeededStack_HoldsThenCatchesABrokenBalance()
    {
        await Succeeds("up", "--subscribers", "20");
        await Succeeds("check-ledger");
        var shard = PostgresCluster.Open(new StackLayout(StateDir).RegionPostgres("b"))!.ConnectionString("geo_zenith_b");
        await using (var connection = new NpgsqlConnection(shard))
        {
            await connection.OpenAsync();
            await using var tamper = new NpgsqlCommand("UPDATE balances SET amount_micros = amount_micros + 1 WHERE subscriber_id = (SELECT id FROM subscribers WHERE username = 'zenith-b-000009')", connection);
            Assert.Equal(1, await tamper.ExecuteNonQueryAsync());
        }

        Assert.Equal(1, await GeoCtl("check-ledger"));

        Assert.Contains("FAIL geo_zenith_b: 1 balances differ", Output.ToString(), StringComparison.Ordinal);
        Assert.Contains("zenith-b-000009", Output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Up_Twice_SecondRunReusesAndWritesNothing()
    {
        await Succeeds("up", "--subscribers", "10");
        var layout = new StackLayout(StateDir);
        var shard = PostgresCluster.Open(layout.RegionPostgres("a"))!.ConnectionString("geo_acme_a");
        var before = await Sql.QueryAsync<Guid>(shard, "SELECT id FROM subscribers ORDER BY id");
        var credentials = await File.ReadAllTextAsync(layout.CredentialsFile("geo_acme_a"));

        await Succeeds("up", "--subscribers", "50");

        Assert.Equal(before, await Sql.QueryAsync<Guid>(shard, "SELECT id FROM subscribers ORDER BY id"));
        Assert.Equal(credentials, await File.ReadAllTextAsync(layout.CredentialsFile("geo_acme_a")));
        Assert.Contains("Reusing the local stack", Output.ToString(), StringComparison.Ordinal);
        Assert.Contains("10 subscribers already there", Output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Up_DemoSecrets_SealedAtRestAndOpenWithTheStackKeyring()
    {
        await Succeeds("up", "--subscribers", "5");
        var layout = new StackLayout(StateDir);
        var shard = PostgresCluster.Open(layout.RegionPostgres("b"))!.ConnectionString("geo_zenith_b");
        var box = new SecretBox(SecretKeyring.Load(layout.KeyringFile));
        var credentials = (await File.ReadAllLinesAsync(layout.CredentialsFile("geo_zenith_b"))).Skip(1).Select(l => l.Split(',')).ToDictionary(p => p[0], p => p[1]);

        await using var connection = new NpgsqlConnection(shard);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT id, username, password_enc FROM subscribers", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var checkedRows = 0;
        while (await reader.ReadAsync())
        {
            var sealedPassword = (byte[])reader[2];
            Assert.True(box.TryOpenString(sealedPassword, SecretContext.SubscriberPassword(reader.GetGuid(0)), out var password));
            Assert.Equal(credentials[reader.GetString(1)], password);
            Assert.DoesNotContain(password, System.Text.Encoding.UTF8.GetString(sealedPassword), StringComparison.Ordinal);
            checkedRows++;
        }

        Assert.Equal(5, checkedRows);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(layout.KeyringFile));
    }

    [Fact]
    public async Task Down_AfterUp_LeavesNoProcessAndStatusSaysDown()
    {
        await Succeeds("up", "--subscribers", "1");
        var layout = new StackLayout(StateDir);
        var pids = new[] { "a", "b" }
            .SelectMany(r => new[] { PostgresCluster.Open(layout.RegionPostgres(r))!.ServerPid, RedisServer.Open(layout.RegionRedis(r))!.Pid })
            .Append(PostgresCluster.Open(layout.DirectoryPostgres)!.ServerPid)
            .Concat(new[] { layout.RegionNode("a"), layout.RegionNode("b"), layout.Router }.Select(dir => Geo.Engines.Services.ServiceProcess.Open(dir).Pid))
            .Select(pid => pid!.Value)
            .ToArray();
        Assert.All(pids, pid => Assert.True(Processes.IsAlive(pid)));
        var status = await GeoCtl("status");
        Assert.True(status == 0, $"geoctl status exited {status} right after up:\n{Output}");
        Assert.DoesNotContain("metrics unavailable", Output.ToString(), StringComparison.Ordinal);
        // Metrics on each service's management port, not on the port clients reach.
        using var http = new HttpClient();
        foreach (var region in (await StackState.LoadAsync(layout, CancellationToken.None))!.Regions)
        {
            foreach (var port in new[] { region.ManagementPort, region.ReplicatorManagementPort })
            {
                Assert.Contains("geo_dotnet_heap_bytes", await http.GetStringAsync(new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/metrics")), StringComparison.Ordinal);
            }

            using var hidden = await http.GetAsync(new Uri($"http://127.0.0.1:{region.ApiPort.ToString(CultureInfo.InvariantCulture)}/metrics"));
            Assert.Equal(System.Net.HttpStatusCode.NotFound, hidden.StatusCode);
        }

        await Succeeds("down");

        Assert.All(pids, pid => Assert.False(Processes.IsAlive(pid), $"pid {pid} still runs after geoctl down"));
        Assert.Equal(1, await GeoCtl("status"));
        Assert.True(System.IO.Directory.Exists(layout.DirectoryPostgres), "down without --purge keeps the data");
    }

    [Fact]
    public async Task Up_AfterDown_ResumesWithTheSameData()
    {
        await Succeeds("up", "--subscribers", "3");
        var layout = new StackLayout(StateDir);
        var shard = PostgresCluster.Open(layout.RegionPostgres("a"))!.ConnectionString("geo_acme_a");
        var before = await Sql.QueryAsync<string>(shard, "SELECT username FROM subscribers ORDER BY 1");
        await Succeeds("down");
        NpgsqlConnection.ClearAllPools();

        await Succeeds("up");

        Assert.Equal(before, await Sql.QueryAsync<string>(shard, "SELECT username FROM subscribers ORDER BY 1"));
    }

    [Fact]
    public async Task Up_WhileAnotherGeoctlHoldsTheStack_RefusedWithClearMessage()
    {
        using var held = StackLock.Acquire(new StackLayout(StateDir));

        Assert.Equal(2, await GeoCtl("up"));

        Assert.Contains("another geoctl is working on the stack", Error.ToString(), StringComparison.Ordinal);
        Assert.False(File.Exists(new StackLayout(StateDir).StateFile));
    }

    [Theory]
    [InlineData("--regions", "a,A")]
    [InlineData("--regions", "a,a")]
    [InlineData("--subscribers", "-1")]
    public async Task Up_BadOptions_RefusedBeforeStartingAnything(string option, string value)
    {
        Assert.Equal(2, await GeoCtl("up", option, value));

        Assert.StartsWith("geoctl: ", Error.ToString(), StringComparison.Ordinal);
        Assert.False(System.IO.Directory.Exists(new StackLayout(StateDir).DirectoryPostgres));
    }

    [Fact]
    public async Task Status_NoStack_SaysHowToStartOne()
    {
        Assert.Equal(3, await GeoCtl("status"));
        Assert.Contains("geoctl up", Output.ToString(), StringComparison.Ordinal);
    }
}
