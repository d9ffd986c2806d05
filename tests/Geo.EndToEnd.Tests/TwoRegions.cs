using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Geo.Ctl;
using Geo.Ctl.LocalStack;
using Geo.Engines;
using Geo.Engines.Postgres;
using Geo.Engines.Services;
using Geo.Testing;
using Npgsql;

namespace Geo.EndToEnd.Tests;

/// <summary>
/// The local stack exactly as <c>geoctl up</c> runs it — PostgreSQL, Redis and a geo-region process per region,
/// the directory and a geo-router process — in a temp folder, torn down by a reaper whatever happens.
/// </summary>
public class TwoRegions : IAsyncLifetime
{
    private Reaper? _reaper;

    public string StateDir { get; } = Path.Combine(TestFolders.Create("e2e"), ".geo");

    internal StackLayout Layout => new(StateDir);

    internal StackState State { get; private set; } = null!;

    public Uri Router => new($"http://127.0.0.1:{State.RouterPort}");

    public string DirectoryConnectionString => PostgresCluster.Open(Layout.DirectoryPostgres)!.ConnectionString("geo_directory");

    public string ShardConnectionString(string tenant, string home, string? cluster = null) =>
        PostgresCluster.Open(Layout.RegionPostgres(cluster ?? home))!.ConnectionString($"geo_{tenant}_{home}");

    /// <summary>The replica of <paramref name="tenant"/>@<paramref name="home"/> in region <paramref name="standby"/>, once its first copy is in.</summary>
    public async Task<string> SeededReplicaAsync(string tenant, string home, string standby)
    {
        var replica = ShardConnectionString(tenant, home, cluster: standby);
        await Eventually.TrueAsync(async () => await Sql.ScalarAsync<long>(replica, "SELECT count(*) FROM replication_progress") > 0,
            TimeSpan.FromSeconds(60), $"the standby's replica of {tenant}@{home} was seeded");
        return replica;
    }

    /// <summary>
    /// For a failure message about a shard of <paramref name="text"/> that did not replicate: whether region b's replicator
    /// runs and the last lines of its log, the lines of it and of both regions' PostgreSQL logs that name the text, and what
    /// region a's PostgreSQL is doing (its sessions and replication slots), since a logical slot's creation waits for every
    /// transaction running on the server.
    /// </summary>
    public async Task<string> DiagnoseAsync(string text)
    {
        var report = new System.Text.StringBuilder();
        var replicator = Replicator("b");
        report.Append("\n--- region b's replicator: ").Append(replicator.IsRunning ? $"running (pid {replicator.Pid})" : "NOT running").Append(", last lines:\n");
        foreach (var line in File.Exists(replicator.LogFile) ? File.ReadLines(replicator.LogFile).TakeLast(30) : [])
        {
            report.Append(line).Append('\n');
        }

        var files = new[] { replicator.LogFile, Path.Combine(Layout.RegionPostgres("a"), "postgres.log"), Path.Combine(Layout.RegionPostgres("b"), "postgres.log") };
        foreach (var file in files.Where(File.Exists))
        {
            report.Append("\n--- ").Append(file).Append(" (lines naming ").Append(text).Append(")\n");
            foreach (var line in File.ReadLines(file).Where(l => l.Contains(text, StringComparison.Ordinal)).TakeLast(40))
            {
                report.Append(line).Append('\n');
            }
        }

        var a = PostgresCluster.Open(Layout.RegionPostgres("a"))!.ConnectionString("postgres");
        foreach (var (title, sql) in new[]
        {
            ("sessions of region a's PostgreSQL", """
                SELECT concat_ws(' | ', pid, datname, application_name, backend_type, state, wait_event_type || ':' || wait_event,
                    'xact ' || (now() - xact_start)::text, 'xid ' || backend_xid, left(query, 120))
                FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND backend_type IN ('client backend', 'walsender')
                """),
            ("replication slots of region a's PostgreSQL", """
                SELECT concat_ws(' | ', slot_name, database, active, active_pid, restart_lsn, confirmed_flush_lsn) FROM pg_replication_slots
                """),
        })
        {
            report.Append("\n--- ").Append(title).Append('\n');
            try
            {
                foreach (var row in await Sql.QueryAsync<string>(a, sql))
                {
                    report.Append(row).Append('\n');
                }
            }
            catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException)
            {
                report.Append("(could not be read: ").Append(ex.Message).Append(")\n");
            }
        }

        return report.ToString();
    }

    /// <summary>A region's survivability journal database.</summary>
    public string JournalConnectionString(string region) => PostgresCluster.Open(Layout.RegionPostgres(region))!.ConnectionString("geo_journal");

    public IPEndPoint RadiusAuth(string region) => new(IPAddress.Loopback, State.Regions.Single(r => r.Id == region).RadiusAuthPort);

    public IPEndPoint RadiusAcct(string region) => new(IPAddress.Loopback, State.Regions.Single(r => r.Id == region).RadiusAcctPort);

    public string NasSecret(string nasId) => File.ReadAllText(Layout.NasSecretFile(nasId)).Trim();

    public (string Username, string Password) Subscriber(string tenant, string home, int index)
    {
        var username = $"{tenant}-{home}-{index:D6}";
        var line = File.ReadLines(Layout.CredentialsFile($"geo_{tenant}_{home}")).Single(l => l.StartsWith(username + ",", StringComparison.Ordinal));
        return (username, line[(username.Length + 1)..]);
    }

    public HttpClient Api(string tenant)
    {
        var client = new HttpClient { BaseAddress = Router, Timeout = TimeSpan.FromSeconds(10) };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", File.ReadAllText(Layout.ApiKeyFile(tenant)).Trim());
        return client;
    }

    /// <summary>A client of one region node's own API (plans are managed there; the router serves subscribers).</summary>
    public HttpClient RegionApi(string tenant, string region)
    {
        var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{State.Regions.Single(r => r.Id == region).ApiPort}"), Timeout = TimeSpan.FromSeconds(10) };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", File.ReadAllText(Layout.ApiKeyFile(tenant)).Trim());
        return client;
    }

    /// <summary>A region node's readiness report (<c>/health/ready</c> on its management port), ready or not.</summary>
    public async Task<string> NodeHealthAsync(string region)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var port = State.Regions.Single(r => r.Id == region).ManagementPort;
        using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{port}/health/ready"));
        return await response.Content.ReadAsStringAsync();
    }

    /// <summary>One series of a region node's metrics (e.g. <c>geo_owner_heartbeats_total{outcome="answered"}</c>); 0 when absent.</summary>
    public async Task<double> NodeMetricAsync(string region, string series)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var port = State.Regions.Single(r => r.Id == region).ManagementPort;
        var text = await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/metrics"));
        var line = text.Split('\n').FirstOrDefault(l => l.StartsWith(series + " ", StringComparison.Ordinal));
        return line is null ? 0 : double.Parse(line[(series.Length + 1)..].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Automatic failover in the replicators (<c>geoctl up --auto-promote-after</c>); off unless a derived stack says.</summary>
    internal virtual TimeSpan? AutoPromoteAfter => null;

    /// <summary>Demo subscribers per shard (a few: most tests name them one by one).</summary>
    internal virtual int SubscribersPerShard => 30;

    internal ServiceProcess RegionNode(string region) => ServiceProcess.Open(Layout.RegionNode(region));

    internal ServiceProcess Replicator(string region) => ServiceProcess.Open(Layout.Replicator(region));

    /// <summary>A region's servers by region, as the services are configured with them (<c>Directory:Servers</c>).</summary>
    public IReadOnlyDictionary<string, string> Servers =>
        State.Regions.ToDictionary(r => r.Id, r => PostgresCluster.Open(Layout.RegionPostgres(r.Id))!.ConnectionString(), StringComparer.Ordinal);

    /// <summary>Stops a region's geo-replicator (<see cref="UpAsync"/> starts it again).</summary>
    public Task StopReplicatorAsync(string region) => Replicator(region).StopAsync(TimeSpan.FromSeconds(30), CancellationToken.None);

    /// <summary>Runs <c>geoctl up</c> again: starts whatever is stopped, touches nothing that runs.</summary>
    public async Task UpAsync()
    {
        // geoctl runs in this process: a pooled connection to a server a test killed is broken (a real geoctl starts afresh).
        NpgsqlConnection.ClearAllPools();
        await new LocalStackRunner(Layout, new Reporter(TextWriter.Null)).UpAsync(new UpOptions(["a", "b"], SubscribersPerShard) { AutoPromoteAfter = AutoPromoteAfter }, CancellationToken.None);
        State = (await StackState.LoadAsync(Layout, CancellationToken.None))!;
    }

    /// <summary>A tenant homed in a with its standby in b, a's node serving it and b's replica holding a replication position.</summary>
    public async Task CreateReplicatedTenantAsync(string tenant)
    {
        var (code, output) = await GeoctlAsync("tenant", "create", tenant, "--home", "a", "--standby-of", "a=b");
        // When it fails, what region b's replicator and both PostgreSQL servers said about the shard goes with it.
        Assert.True(code == 0, code == 0 ? output : output + await DiagnoseAsync(tenant));
        using var atA = RegionApi(tenant, "a");
        await Eventually.TrueAsync(async () =>
        {
            using var plan = await atA.PutAsJsonAsync($"/tenants/{tenant}/plans/basic", new { displayName = "Basic", downloadKbps = 10_000, uploadKbps = 2_000 });
            return plan.StatusCode == HttpStatusCode.OK;
        }, TimeSpan.FromSeconds(60), $"region a serves tenant {tenant}", TimeSpan.FromMilliseconds(100));
        var replica = ShardConnectionString(tenant, "a", cluster: "b");
        await Eventually.TrueAsync(async () => await Sql.ScalarAsync<long>(replica, "SELECT count(*) FROM plans WHERE id = 'basic'") == 1,
            TimeSpan.FromSeconds(60), $"b's replica of {tenant}@a has the plan", TimeSpan.FromMilliseconds(100));
    }

    /// <summary>Runs geoctl against this stack in the test process; its exit code and everything it printed.</summary>
    public Task<(int Code, string Output)> GeoctlAsync(params string[] arguments) => GeoctlInAsync(StateDir, arguments);

    /// <summary>Runs geoctl in the test process with another state folder (a deployment's, with platform.json).</summary>
    public static async Task<(int Code, string Output)> GeoctlInAsync(string stateDir, params string[] arguments)
    {
        // As a geoctl process starts: with no pooled connection (a test, or a rejoin, may have ended the sessions of one).
        NpgsqlConnection.ClearAllPools();
        using var output = new StringWriter();
        var code = await GeoCtlCommand.Create(output, output).Parse(["--state-dir", stateDir, .. arguments]).InvokeAsync();
        return (code, output.ToString());
    }

    /// <summary>
    /// Runs geoctl as its own process; at the first line of its output that <paramref name="isAt"/> accepts, runs
    /// <paramref name="meanwhile"/> while it is still running there, then SIGKILLs it. False when it exited first.
    /// </summary>
    public async Task<(bool Killed, string Output)> GeoctlUntilAsync(Func<string, bool> isAt, string[] arguments, Func<Process, string, Task> meanwhile, TimeSpan deadline)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { GeoProgram.Ctl.Locate(), "--state-dir", StateDir }.Concat(arguments))
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        var seen = new System.Text.StringBuilder();
        using var timeout = new CancellationTokenSource(deadline);
        try
        {
            while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                seen.AppendLine(line);
                if (isAt(line))
                {
                    await meanwhile(process, seen.ToString());
                    return (true, seen.ToString());
                }
            }

            await process.WaitForExitAsync(timeout.Token);
            return (false, seen + await process.StandardError.ReadToEndAsync(timeout.Token));
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None);
            }
        }
    }

    public async Task InitializeAsync()
    {
        _reaper = StackReaper.Start(Path.GetDirectoryName(StateDir)!);
        await UpAsync();
    }

    public async Task DisposeAsync()
    {
        await new LocalStackRunner(Layout, new Reporter(TextWriter.Null)).DownAsync(purge: false, CancellationToken.None);
        NpgsqlConnection.ClearAllPools();
        _reaper?.Dispose();
    }
}
