using System.Globalization;
using Geo.Ctl.Demo;
using Geo.Directory;
using Geo.Directory.Shards;
using Geo.Directory.Stores.Postgres;
using Geo.Engines;
using Geo.Engines.Postgres;
using Geo.Engines.Redis;
using Geo.Engines.Services;
using Geo.Schema;
using Geo.Schema.Migrations;
using Geo.Schema.Secrets;
using Npgsql;

namespace Geo.Ctl.LocalStack;

/// <summary>Options of <c>geoctl up</c>.</summary>
internal sealed record UpOptions(IReadOnlyList<string> Regions, int SubscribersPerShard)
{
    /// <summary>False starts only the engines and data (tests run the services in-process).</summary>
    public bool StartServices { get; init; } = true;

    /// <summary>
    /// When set, the replicators this run starts promote a shard automatically once its owner's lease has been expired
    /// this long (<c>Dr:AutoPromote</c>); null leaves automatic failover off.
    /// </summary>
    public TimeSpan? AutoPromoteAfter { get; init; }
}

/// <summary>
/// The local stack: for every region a PostgreSQL cluster and a Redis, plus the directory cluster (the
/// witness), all on loopback with their state under one folder. <c>up</c> is idempotent: it starts what is
/// stopped, migrates what is behind and seeds what is empty; it never overwrites data.
/// </summary>
internal sealed class LocalStackRunner(StackLayout layout, Reporter reporter)
{
    private const string DirectoryDatabase = "geo_directory";
    private static readonly HttpClient Http = new();

    public async Task<int> UpAsync(UpOptions options, CancellationToken cancellationToken)
    {
        using var stackLock = StackLock.Acquire(layout);
        var state = await StackState.LoadAsync(layout, cancellationToken);
        if (state is null)
        {
            Validate(options);
            state = new StackState
            {
                CreatedAt = DateTimeOffset.UtcNow,
                SubscribersPerShard = options.SubscribersPerShard,
                Regions = [.. options.Regions.Select(id => new RegionState(id, LoopbackPorts.FreeUdpPort(), LoopbackPorts.FreeUdpPort(), LoopbackPorts.FreeTcpPort()).Completed())],
                RouterPort = LoopbackPorts.FreeTcpPort(),
            };
            reporter.Line($"Creating the local stack in {StackLayout.Show(layout.Root)}: regions {string.Join(", ", options.Regions)}, {options.SubscribersPerShard} subscribers per shard");
            await state.SaveAsync(layout, cancellationToken);
        }
        else
        {
            var requested = options.Regions.SequenceEqual(state.Regions.Select(r => r.Id)) ? "" : $" (ignoring --regions {string.Join(",", options.Regions)}: an existing stack keeps its regions; 'geoctl down --purge' to start over)";
            reporter.Line($"Reusing the local stack in {StackLayout.Show(layout.Root)}: regions {string.Join(", ", state.Regions.Select(r => r.Id))}{requested}");
            if (state.RouterPort == 0 || state.Regions.Any(r => !r.Complete))
            {
                state = state with
                {
                    RouterPort = state.RouterPort == 0 ? LoopbackPorts.FreeTcpPort() : state.RouterPort,
                    Regions = [.. state.Regions.Select(r => r.Completed())],
                };
                await state.SaveAsync(layout, cancellationToken);
            }
        }

        var regionIds = state.Regions.Select(r => r.Id).ToArray();
        var secrets = new SecretBox(await LoadOrCreateKeyringAsync(cancellationToken));
        if (!File.Exists(layout.InterRegionSecretFile))
        {
            await PrivateFile.WriteAsync(layout.InterRegionSecretFile, Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24)), cancellationToken);
        }

        // Engines start in parallel: each one is a separate process and they do not depend on each other.
        var directoryTask = reporter.StepAsync("directory PostgreSQL (witness)",
            () => PostgresCluster.StartAsync(new PostgresClusterOptions { Directory = layout.DirectoryPostgres, RequirePassword = true }, cancellationToken), c => $"127.0.0.1:{c.Port}");
        var regionTasks = state.Regions.Select(region => (
            region.Id,
            Postgres: reporter.StepAsync($"region {region.Id} PostgreSQL",
                () => PostgresCluster.StartAsync(new PostgresClusterOptions
                {
                    Directory = layout.RegionPostgres(region.Id),
                    RequirePassword = true,
                    Settings = new Dictionary<string, string> { ["shared_buffers"] = SharedBuffers(state.SubscribersPerShard, DemoData.Tenants.Count * state.Regions.Count) },
                }, cancellationToken), c => $"127.0.0.1:{c.Port}"),
            Redis: reporter.StepAsync($"region {region.Id} Redis",
                () => RedisServer.StartAsync(new RedisServerOptions { Directory = layout.RegionRedis(region.Id), RequirePassword = true }, cancellationToken), r => r.Endpoint))).ToArray();
        await Task.WhenAll(regionTasks.SelectMany(r => new Task[] { r.Postgres, r.Redis }).Append(directoryTask));
        var directoryCluster = await directoryTask;

        var migrations = new MigrationRunner();
        var directory = directoryCluster.ConnectionString(DirectoryDatabase);
        await reporter.StepAsync("directory schema", async () =>
        {
            await EnsureDatabaseAsync(directoryCluster, DirectoryDatabase, cancellationToken);
            return await migrations.ApplyAsync(directory, MigrationSet.Directory, cancellationToken);
        }, Describe);
        await reporter.StepAsync("directory: regions, tenants, shards, NAS", () => DemoSeeder.SeedDirectoryAsync(directory, state.Regions, regionIds, cancellationToken));

        var seeder = new DemoSeeder(layout, secrets);
        await reporter.StepAsync("directory: tenant API keys", () => seeder.EnsureApiKeysAsync(directory, cancellationToken));
        var servers = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (regionId, postgresTask, _) in regionTasks)
        {
            var cluster = await postgresTask;
            servers[regionId] = cluster.ConnectionString();
            foreach (var tenant in DemoData.Tenants)
            {
                var name = ShardDatabase.Name(tenant.Id, regionId);
                await reporter.StepAsync($"shard {tenant.Id}@{regionId}: database {name}", () => EnsureDatabaseAsync(cluster, name, cancellationToken));
            }
        }

        // Every shard of the directory (the demo tenants' and those created with 'geoctl tenant create'), each replica before its source.
        await reporter.StepAsync("schema of every shard and replica", () => MigrateShardsAsync(new PlatformDatabases(directory, servers), cancellationToken), summary =>
            $"{summary.Succeeded} databases ok, {summary.Skipped} skipped" +
            (summary.Results.Any(r => r.Outcome == ShardMigrationOutcome.Migrated) ? $"; migrated {string.Join(", ", summary.Results.Where(r => r.Outcome == ShardMigrationOutcome.Migrated).Select(r => $"{r.Database} in {r.Region}").Distinct())}" : ""));

        var regionClusters = new Dictionary<string, PostgresCluster>(StringComparer.Ordinal);
        foreach (var (regionId, postgresTask, _) in regionTasks)
        {
            regionClusters[regionId] = await postgresTask;
        }

        var roles = await reporter.StepAsync($"service roles ({string.Join(", ", ServiceRoles.All)})",
            () => EnsureServiceRolesAsync(directory, regionClusters, cancellationToken),
            r => $"passwords in {StackLayout.Show(Path.GetDirectoryName(r.Node)!)}");

        foreach (var (regionId, postgresTask, _) in regionTasks)
        {
            var cluster = await postgresTask;
            foreach (var tenant in DemoData.Tenants)
            {
                var shard = cluster.ConnectionString(ShardDatabase.Name(tenant.Id, regionId));
                await ShardFence.EnsureAsync(shard, tenant.Id, regionId, cancellationToken);
                await reporter.StepAsync($"shard {tenant.Id}@{regionId}: demo data",
                    () => seeder.SeedShardAsync(shard, directory, tenant, regionId, regionIds, state.SubscribersPerShard, cancellationToken),
                    r => r.Seeded ? $"{r.Subscribers} subscribers written" : $"{r.Subscribers} subscribers already there");
            }
        }

        if (!options.StartServices)
        {
            return 0;
        }

        var redisServers = new Dictionary<string, RedisServer>();
        foreach (var (regionId, _, redisTask) in regionTasks)
        {
            redisServers[regionId] = await redisTask;
        }

        await Task.WhenAll(state.Regions.Select(region => reporter.StepAsync($"region {region.Id} node (geo-region)",
            () => StartRegionNodeAsync(region, AsRole(directory, ServiceRoles.RegionNode, roles.Node), regionClusters[region.Id], roles.Node, redisServers[region.Id], cancellationToken),
            node => $"RADIUS 127.0.0.1:{region.RadiusAuthPort}/{region.RadiusAcctPort}, HTTP 127.0.0.1:{region.ApiPort}, metrics http://127.0.0.1:{region.ManagementPort}/metrics, pid {node}")));

        if (state.Regions.Count > 1)
        {
            await Task.WhenAll(state.Regions.Select(region => reporter.StepAsync($"region {region.Id} replicator (geo-replicator)",
                () => StartReplicatorAsync(region, directory, regionClusters, roles.Replicator, options.AutoPromoteAfter, cancellationToken),
                replicator => $"replicas of the shards it stands by for (from the directory), health 127.0.0.1:{region.ReplicatorPort}, metrics http://127.0.0.1:{region.ReplicatorManagementPort}/metrics, pid {replicator}")));
        }

        await reporter.StepAsync("router (geo-router)", () => StartRouterAsync(state, AsRole(directory, ServiceRoles.Router, roles.Router), regionClusters, cancellationToken),
            router => $"HTTP 127.0.0.1:{state.RouterPort}, pid {router}");

        reporter.Line("");
        await PrintSummaryAsync(state, cancellationToken);
        return 0;
    }

    /// <summary>
    /// One geo-replicator per region keeps the region's replicas current (pgoutput). It follows the directory: every
    /// shard whose standby is this region is streamed, including tenants created later with 'geoctl tenant create'. It
    /// runs as its own role (geo_replicator); automatic failover, when asked for, promotes with the administrator's.
    /// </summary>
    private async Task<ServiceProcess> StartReplicatorAsync(RegionState region, string directory, Dictionary<string, PostgresCluster> clusters, string passfile,
        TimeSpan? autoPromoteAfter, CancellationToken cancellationToken)
    {
        var url = $"http://127.0.0.1:{region.ReplicatorPort.ToString(CultureInfo.InvariantCulture)}";
        var arguments = new List<string>
        {
            $"--Replication:Region={region.Id}",
            $"--urls={url}",
            $"--Management:Url=http://127.0.0.1:{region.ReplicatorManagementPort.ToString(CultureInfo.InvariantCulture)}",
            $"--Replication:Directory:ConnectionString={AsRole(directory, ServiceRoles.Replicator, passfile)}",
        };
        arguments.AddRange(clusters.Select(c => $"--Replication:Directory:Servers:{c.Key}={AsRole(c.Value.ConnectionString(), ServiceRoles.Replicator, passfile)}"));
        if (autoPromoteAfter is { } after)
        {
            arguments.Add("--Dr:AutoPromote=true");
            arguments.Add($"--Dr:AutoPromoteAfter={after.ToString("c", CultureInfo.InvariantCulture)}");
            arguments.Add($"--Dr:ConnectionString={directory}");
            arguments.AddRange(clusters.Select(c => $"--Dr:Servers:{c.Key}={c.Value.ConnectionString()}"));
        }

        var replicator = await ServiceProcess.StartAsync(layout.Replicator(region.Id), GeoProgram.Replicator.Locate(), arguments, cancellationToken);
        await replicator.WaitUntilReadyAsync(ct => IsReadyAsync(new Uri($"{url}/health/ready"), ct), TimeSpan.FromSeconds(120), cancellationToken);
        return replicator;
    }

    private async Task<ServiceProcess> StartRouterAsync(StackState state, string directory, Dictionary<string, PostgresCluster> clusters, CancellationToken cancellationToken)
    {
        var url = $"http://127.0.0.1:{state.RouterPort.ToString(CultureInfo.InvariantCulture)}";
        if (!File.Exists(layout.OperatorKeyFile))
        {
            await PrivateFile.WriteAsync(layout.OperatorKeyFile, $"geo_operator_{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24))}", cancellationToken);
        }

        var operatorKey = (await File.ReadAllTextAsync(layout.OperatorKeyFile, cancellationToken)).Trim();
        var arguments = new List<string>
        {
            $"--Router:DirectoryConnectionString={directory}",
            $"--urls={url}",
            $"--Router:Admin:OperatorKeySha256={Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(operatorKey)))}",
        };
        arguments.AddRange(clusters.Select(c => $"--Router:Admin:Servers:{c.Key}={c.Value.ConnectionString()}"));
        var router = await ServiceProcess.StartAsync(layout.Router, GeoProgram.Router.Locate(), arguments, cancellationToken);
        await router.WaitUntilReadyAsync(ct => IsReadyAsync(new Uri($"{url}/health/ready"), ct), TimeSpan.FromSeconds(60), cancellationToken);
        return router;
    }

    /// <summary>
    /// Creates the services' roles in every server of the stack (a password each, generated once and kept in its password
    /// file), and grants them what they need there; again on every start, after the migrations, as grants name tables.
    /// </summary>
    private async Task<(string Node, string Router, string Replicator)> EnsureServiceRolesAsync(string directory,
        IReadOnlyDictionary<string, PostgresCluster> regions, CancellationToken cancellationToken)
    {
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(layout.ServicePassfile(ServiceRoles.RegionNode))!, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var passwords = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var role in ServiceRoles.All)
        {
            var passfile = layout.ServicePassfile(role);
            passwords[role] = await ReadPassfilePasswordAsync(passfile, cancellationToken) ?? Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24));
            // One password per role, whichever server of the stack (or a relay in front of one) it is used for.
            await PrivateFile.WriteAsync(passfile, $"127.0.0.1:*:*:{role}:{passwords[role]}\n", cancellationToken);
        }

        await ServiceRoles.ApplyAsync(directory, regions.ToDictionary(r => r.Key, r => r.Value.ConnectionString(), StringComparer.Ordinal), passwords, progress: null, cancellationToken);
        return (layout.ServicePassfile(ServiceRoles.RegionNode), layout.ServicePassfile(ServiceRoles.Router), layout.ServicePassfile(ServiceRoles.Replicator));
    }

    private static async Task<string?> ReadPassfilePasswordAsync(string passfile, CancellationToken cancellationToken)
    {
        if (!File.Exists(passfile))
        {
            return null;
        }

        var first = (await File.ReadAllLinesAsync(passfile, cancellationToken)).FirstOrDefault(l => l.Length > 0);
        var password = first?[(first.LastIndexOf(':') + 1)..];
        return string.IsNullOrEmpty(password) ? null : password;
    }

    /// <summary>A connection string of the stack as a service's role: its user name and password file instead of the superuser's.</summary>
    private static string AsRole(string connectionString, string role, string passfile) =>
        new NpgsqlConnectionStringBuilder(connectionString) { Username = role, Passfile = passfile }.ConnectionString;

    private async Task<ServiceProcess> StartRegionNodeAsync(RegionState region, string directory, PostgresCluster postgres, string passfile, RedisServer redis, CancellationToken cancellationToken)
    {
        var inv = CultureInfo.InvariantCulture;
        var node = await ServiceProcess.StartAsync(layout.RegionNode(region.Id), GeoProgram.RegionNode.Locate(),
        [
            "--urls", $"http://127.0.0.1:{region.ApiPort.ToString(inv)}",
            $"--Management:Url=http://127.0.0.1:{region.ManagementPort.ToString(inv)}",
            $"--RegionNode:RegionId={region.Id}",
            $"--RegionNode:DirectoryConnectionString={directory}",
            $"--RegionNode:PostgresConnectionString={new NpgsqlConnectionStringBuilder(AsRole(postgres.ConnectionString(), ServiceRoles.RegionNode, passfile)) { Database = null, MaxPoolSize = 50 }}",
            $"--RegionNode:RedisEndpoint={redis.Endpoint}",
            // Empty for a Redis created without a password (a stack from before passwords).
            $"--RegionNode:RedisPasswordFile={(redis.Password is null ? "" : redis.PasswordFile)}",
            $"--RegionNode:KeyringFile={layout.KeyringFile}",
            $"--RegionNode:InterRegionSecretFile={layout.InterRegionSecretFile}",
            "--RegionNode:RadiusBindAddress=127.0.0.1",
            $"--RegionNode:AuthPort={region.RadiusAuthPort.ToString(inv)}",
            $"--RegionNode:AcctPort={region.RadiusAcctPort.ToString(inv)}",
        ], cancellationToken);
        await node.WaitUntilReadyAsync(ct => IsReadyAsync(ReadyUri(region), ct), TimeSpan.FromSeconds(60), cancellationToken);
        return node;
    }

    /// <summary>
    /// shared_buffers for a region's PostgreSQL: the subscribers, balances and quota tables of every shard and replica it
    /// holds (about 0.5 KiB per subscriber with their indexes), at least PostgreSQL's 256 MB here and at most an eighth
    /// of the machine's memory. Too small, and a login of a subscriber not seen lately reads its pages from the kernel:
    /// measured at a million subscribers per shard, 256 MB held under half of them and cold logins ran 20-30 % slower.
    /// </summary>
    internal static string SharedBuffers(long subscribersPerShard, int databases)
    {
        const long Mb = 1024 * 1024;
        var wanted = subscribersPerShard * databases * 512;
        var ceiling = Math.Max(256 * Mb, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 8);
        return $"{Math.Clamp(wanted, 256 * Mb, ceiling) / Mb}MB";
    }

    private static Uri ReadyUri(RegionState region) => new($"http://127.0.0.1:{region.ApiPort.ToString(CultureInfo.InvariantCulture)}/health/ready");

    private static async Task<bool> IsReadyAsync(Uri ready, CancellationToken cancellationToken) =>
        (await ProbeAsync(ready, cancellationToken)).Ready;

    /// <summary>One GET of a readiness endpoint: ready or not, and the reason the service gives (its 503 body).</summary>
    private static async Task<(bool Ready, string Reason)> ProbeAsync(Uri ready, CancellationToken cancellationToken)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            using var response = await Http.GetAsync(ready, timeout.Token);
            if (response.IsSuccessStatusCode)
            {
                return (true, "");
            }

            var body = await response.Content.ReadAsStringAsync(timeout.Token);
            return (false, string.Join("; ", body.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)));
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return (false, ex is OperationCanceledException ? "no answer within 5 s" : ex.Message);
        }
    }

    /// <summary>
    /// Readiness as 'status' reports it: a service that is momentarily busy (a refresh, a reconnect, a loaded machine)
    /// is asked again for a few seconds before it is called not ready, and the last reason it gave is kept.
    /// </summary>
    private static async Task<(bool Ready, string Reason)> SettledProbeAsync(Uri ready, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var probe = await ProbeAsync(ready, cancellationToken);
            if (probe.Ready || DateTime.UtcNow >= deadline)
            {
                return probe;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken);
        }
    }

    public async Task<int> DownAsync(bool purge, CancellationToken cancellationToken)
    {
        if (!System.IO.Directory.Exists(layout.Root))
        {
            reporter.Line($"No local stack in {StackLayout.Show(layout.Root)}: nothing to stop.");
            return 0;
        }

        using (StackLock.Acquire(layout))
        {
            var state = await StackState.LoadAsync(layout, cancellationToken);
            // Services first, gracefully: a region node finishes and commits what is in flight before its database goes.
            await Task.WhenAll((state?.Regions ?? []).SelectMany(region => new[] { ServiceProcess.Open(layout.RegionNode(region.Id)), ServiceProcess.Open(layout.Replicator(region.Id)) })
                .Append(ServiceProcess.Open(layout.Router))
                .Where(node => node.IsRunning)
                .Select(node => reporter.StepAsync($"stop {StackLayout.Show(node.Directory)} (pid {node})", () => node.StopAsync(TimeSpan.FromSeconds(30), cancellationToken))));
            var stops = new List<Task>();
            foreach (var region in state?.Regions ?? [])
            {
                if (RedisServer.Open(layout.RegionRedis(region.Id)) is { } redis)
                {
                    stops.Add(reporter.StepAsync($"stop region {region.Id} Redis", () => redis.StopAsync(cancellationToken)));
                }

                if (PostgresCluster.Open(layout.RegionPostgres(region.Id)) is { } postgres)
                {
                    stops.Add(reporter.StepAsync($"stop region {region.Id} PostgreSQL", () => postgres.StopAsync(cancellationToken: cancellationToken)));
                }
            }

            if (PostgresCluster.Open(layout.DirectoryPostgres) is { } directory)
            {
                stops.Add(reporter.StepAsync("stop directory PostgreSQL", () => directory.StopAsync(cancellationToken: cancellationToken)));
            }

            await Task.WhenAll(stops);
        }

        if (purge)
        {
            System.IO.Directory.Delete(layout.Root, recursive: true);
            reporter.Line($"Removed {StackLayout.Show(layout.Root)} (all data of the local stack).");
        }
        else
        {
            reporter.Line($"Stopped. Data kept in {StackLayout.Show(layout.Root)}: 'geoctl up' resumes it, 'geoctl down --purge' removes it.");
        }

        return 0;
    }

    public async Task<int> StatusAsync(CancellationToken cancellationToken)
    {
        var state = await StackState.LoadAsync(layout, cancellationToken);
        if (state is null)
        {
            reporter.Line($"No local stack in {StackLayout.Show(layout.Root)}. Start one with 'geoctl up'.");
            return 3;
        }

        var healthy = true;
        reporter.Line($"Local stack in {StackLayout.Show(layout.Root)} (created {state.CreatedAt:u})");
        reporter.Line($"{"component",-26} {"state",-10} {"endpoint",-18} detail");
        healthy &= await ReportPostgresAsync("directory PostgreSQL", PostgresCluster.Open(layout.DirectoryPostgres), [DirectoryDatabase], cancellationToken);
        var owned = await OwnedDatabasesAsync(cancellationToken);
        foreach (var region in state.Regions)
        {
            var shards = owned.TryGetValue(region.Id, out var databases) ? databases : [];
            healthy &= await ReportPostgresAsync($"region {region.Id} PostgreSQL", PostgresCluster.Open(layout.RegionPostgres(region.Id)), shards, cancellationToken);
            var redis = RedisServer.Open(layout.RegionRedis(region.Id));
            var answers = redis is not null && await redis.PingAsync(cancellationToken);
            healthy &= answers;
            reporter.Line($"{$"region {region.Id} Redis",-26} {(answers ? "up" : redis?.IsRunning == true ? "silent" : "down"),-10} {redis?.Endpoint ?? "-",-18} {(answers ? $"pid {redis!.Pid}" : "")}");
            var node = ServiceProcess.Open(layout.RegionNode(region.Id));
            var (ready, why) = node.IsRunning ? await SettledProbeAsync(ReadyUri(region), cancellationToken) : (false, "");
            healthy &= ready;
            reporter.Line($"{$"region {region.Id} node",-26} {(ready ? "up" : node.IsRunning ? "not ready" : "down"),-10} {$"127.0.0.1:{region.ApiPort}",-18} " +
                (node.IsRunning ? $"pid {node}; RADIUS auth {region.RadiusAuthPort}, acct {region.RadiusAcctPort}; metrics 127.0.0.1:{region.ManagementPort}; log {StackLayout.Show(node.LogFile)}{(ready ? "" : $"; {why}")}" : ""));
            if (state.Regions.Count > 1)
            {
                healthy &= await ReportReplicatorAsync(region, cancellationToken);
            }
        }

        var router = ServiceProcess.Open(layout.Router);
        var (routerUp, routerWhy) = router.IsRunning && state.RouterPort != 0
            ? await SettledProbeAsync(new Uri($"http://127.0.0.1:{state.RouterPort}/health/ready"), cancellationToken)
            : (false, "");
        healthy &= routerUp;
        reporter.Line($"{"router",-26} {(routerUp ? "up" : router.IsRunning ? "not ready" : "down"),-10} {$"127.0.0.1:{state.RouterPort}",-18} " +
            (router.IsRunning ? $"pid {router}; log {StackLayout.Show(router.LogFile)}{(routerUp ? "" : $"; {routerWhy}")}" : ""));
        await ReportShardsAsync(cancellationToken);
        return healthy ? 0 : 1;
    }

    /// <summary>Each shard's owner, standby, epoch, state and owner lease (the short form of <c>geoctl dr status</c>).</summary>
    private async Task ReportShardsAsync(CancellationToken cancellationToken)
    {
        if (PostgresCluster.Open(layout.DirectoryPostgres) is not { IsRunning: true })
        {
            return;
        }

        try
        {
            await using var platform = await Tenants.Platform.OpenAsync(layout, cancellationToken, requireRegions: false);
            var rows = await Recovery.DrCommand.ReadStatusAsync(platform, cancellationToken);
            reporter.Line($"{"shard",-26} {"state",-10} {"owner",-18} detail (geoctl dr status)");
            foreach (var row in rows)
            {
                reporter.Line($"{row.Shard.Key,-26} {ShardStates.ToText(row.Shard.State),-10} {row.Shard.OwnerRegion,-18} " +
                    $"epoch {row.Shard.Epoch}; standby {row.Shard.StandbyRegion ?? "none"}; lease {row.Lease}; standby replica {row.Replica}");
            }
        }
        catch (Exception ex) when (ex is NpgsqlException or DirectoryStoreException or StackException)
        {
            reporter.Line($"shards: cannot read the directory ({ex.Message})");
        }
    }

    /// <summary>The shard databases each region owns, from the directory (empty when it cannot be read).</summary>
    private async Task<Dictionary<string, List<string>>> OwnedDatabasesAsync(CancellationToken cancellationToken)
    {
        var owned = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        if (PostgresCluster.Open(layout.DirectoryPostgres) is not { IsRunning: true } directory)
        {
            return owned;
        }

        try
        {
            await using var store = new PostgresDirectoryStore(directory.ConnectionString(DirectoryDatabase));
            foreach (var shard in (await store.LoadAsync(cancellationToken)).Shards.Where(s => s.State == ShardState.Active).OrderBy(s => s.DatabaseName, StringComparer.Ordinal))
            {
                (owned.TryGetValue(shard.OwnerRegion, out var list) ? list : owned[shard.OwnerRegion] = []).Add(shard.DatabaseName);
            }
        }
        catch (Exception ex) when (ex is NpgsqlException or DirectoryStoreException)
        {
            // The directory's own line says it is failing.
        }

        return owned;
    }

    /// <summary>The replicator's state and, per shard, seconds and bytes behind its source (from its /metrics).</summary>
    private async Task<bool> ReportReplicatorAsync(RegionState region, CancellationToken cancellationToken)
    {
        var replicator = ServiceProcess.Open(layout.Replicator(region.Id));
        var url = $"http://127.0.0.1:{region.ReplicatorPort}";
        var (ready, why) = replicator.IsRunning && region.ReplicatorPort != 0 ? await SettledProbeAsync(new Uri($"{url}/health/ready"), cancellationToken) : (false, "");
        var lag = "";
        if (replicator.IsRunning)
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(TimeSpan.FromSeconds(2));
                var metrics = await Http.GetStringAsync(new Uri($"http://127.0.0.1:{region.ReplicatorManagementPort.ToString(CultureInfo.InvariantCulture)}/metrics"), timeout.Token);
                var seconds = ReadSeries(metrics, "geo_replication_lag_seconds");
                var bytes = ReadSeries(metrics, "geo_replication_lag_bytes");
                var warning = ReadSeries(metrics, "geo_replication_lag_warning");
                lag = string.Join("; ", seconds.Select(s => $"{s.Key} lag {Known(s.Value, "F2")} s, {Known(bytes.GetValueOrDefault(s.Key, double.NaN), "F0")} bytes{(warning.GetValueOrDefault(s.Key) > 0 ? " WARNING" : "")}"));
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                lag = "metrics unavailable";
            }
        }

        reporter.Line($"{$"region {region.Id} replicator",-26} {(ready ? "up" : replicator.IsRunning ? "not ready" : "down"),-10} {$"127.0.0.1:{region.ReplicatorPort}",-18} " +
            (replicator.IsRunning ? $"pid {replicator}; {lag}{(ready ? "" : $"; {why}")}" : ""));
        return ready;
    }

    /// <summary>A metric value for people: "not yet known" before the first measurement (NaN) instead of "NaN".</summary>
    private static string Known(double value, string format) =>
        double.IsNaN(value) ? "not yet known" : value.ToString(format, CultureInfo.InvariantCulture);

    /// <summary>The values of one Prometheus series by its shard label.</summary>
    private static Dictionary<string, double> ReadSeries(string metrics, string name)
    {
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        var prefix = name + "{shard=\"";
        foreach (var line in metrics.Split('\n'))
        {
            if (line.StartsWith(prefix, StringComparison.Ordinal) && line.IndexOf("\"} ", StringComparison.Ordinal) is var end and > 0 &&
                double.TryParse(line.AsSpan(end + 3), NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                values[line[prefix.Length..end]] = value;
            }
        }

        return values;
    }

    private async Task<bool> ReportPostgresAsync(string name, PostgresCluster? cluster, IReadOnlyList<string> databases, CancellationToken cancellationToken)
    {
        if (cluster is null || !cluster.IsRunning)
        {
            reporter.Line($"{name,-26} {"down",-10} {(cluster is null ? "-" : $"127.0.0.1:{cluster.Port}"),-18}");
            return false;
        }

        var details = new List<string>();
        foreach (var database in databases)
        {
            try
            {
                if (database == DirectoryDatabase)
                {
                    // The map through the directory client, as every service reads it.
                    await using var directory = new PostgresDirectoryStore(cluster.ConnectionString(database));
                    details.Add($"{(await directory.LoadAsync(cancellationToken)).Shards.Count} shards");
                    continue;
                }

                await using var connection = new NpgsqlConnection(cluster.ConnectionString(database));
                await connection.OpenAsync(cancellationToken);
                await using var command = new NpgsqlCommand("SELECT count(*) FROM subscribers", connection);
                var count = (long)(await command.ExecuteScalarAsync(cancellationToken))!;
                details.Add($"{database}: {count} subscribers");
            }
            catch (Exception ex) when (ex is NpgsqlException or DirectoryStoreException)
            {
                details.Add($"{database}: {ex.Message}");
                reporter.Line($"{name,-26} {"failing",-10} 127.0.0.1:{cluster.Port,-8} {string.Join("; ", details)}");
                return false;
            }
        }

        reporter.Line($"{name,-26} {"up",-10} {$"127.0.0.1:{cluster.Port}",-18} pid {cluster.ServerPid}; {string.Join("; ", details)}");
        return true;
    }

    private async Task PrintSummaryAsync(StackState state, CancellationToken cancellationToken)
    {
        reporter.Line("The local stack is up.");
        await StatusAsync(cancellationToken);
        var first = state.Regions[0];
        var cluster = PostgresCluster.Open(layout.RegionPostgres(first.Id))!;
        var tenant = DemoData.Tenants[0];
        var database = ShardDatabase.Name(tenant.Id, first.Id);
        reporter.Line("");
        reporter.Line("Data folders and logs:");
        reporter.Line($"  directory  {StackLayout.Show(layout.DirectoryPostgres)}  (log {StackLayout.Show(Path.Combine(layout.DirectoryPostgres, "postgres.log"))})");
        foreach (var region in state.Regions)
        {
            reporter.Line($"  region {region.Id}   {StackLayout.Show(layout.RegionPostgres(region.Id))}, {StackLayout.Show(layout.RegionRedis(region.Id))}");
        }

        reporter.Line($"  demo credentials {StackLayout.Show(Path.Combine(layout.DemoDirectory, "subscribers"))}/<database>.csv, NAS secrets {StackLayout.Show(Path.Combine(layout.DemoDirectory, "nas"))}/, API keys {StackLayout.Show(Path.Combine(layout.DemoDirectory, "api-keys"))}/");
        reporter.Line("");
        reporter.Line("Try:");
        // The password stays in its file: psql reads it from there.
        var psql = $"{(cluster.RequiresPassword ? $"PGPASSFILE={StackLayout.Show(cluster.PasswordFile)} " : "")}psql -h 127.0.0.1 -p {cluster.Port.ToString(CultureInfo.InvariantCulture)} -U postgres";
        reporter.Line($"  {psql} -l");
        reporter.Line($"  {psql} -d {database} -c 'SELECT username, plan_id, status FROM subscribers LIMIT 5'");
        var nas = DemoData.NasDevices(tenant, state.Regions.Select(r => r.Id).ToArray())[0];
        var credentials = layout.CredentialsFile(database);
        var secret = StackLayout.Show(layout.NasSecretFile(nas.Id));
        var user = File.Exists(credentials) ? File.ReadLines(credentials).Skip(1).FirstOrDefault()?.Split(',') : null;
        if (user is [var name, _])
        {
            // The password is read from the credentials file when the line runs, never printed (the NAS secret likewise).
            reporter.Line($"  printf 'User-Name = \"%s\"\\nUser-Password = \"%s\"\\nPacket-Src-IP-Address = {nas.Address}\\nMessage-Authenticator = 0x00\\n' \\");
            reporter.Line($"      {name} \"$(awk -F, '$1 == \"{name}\" {{ print $2 }}' {StackLayout.Show(credentials)})\" \\");
            reporter.Line($"    | radclient -x 127.0.0.1:{first.RadiusAuthPort} auth \"$(cat {secret})\"");
            reporter.Line($"  printf 'User-Name = \"{name}\"\\nAcct-Status-Type = Start\\nAcct-Session-Id = \"demo-1\"\\nPacket-Src-IP-Address = {nas.Address}\\n' \\");
            reporter.Line($"    | radclient -x 127.0.0.1:{first.RadiusAcctPort} acct \"$(cat {secret})\"");
        }

        reporter.Line($"  curl -si -H \"Authorization: Bearer $(cat {StackLayout.Show(layout.ApiKeyFile(tenant.Id))})\" http://127.0.0.1:{state.RouterPort}/tenants/{tenant.Id}/subscribers/{DemoData.Username(tenant.Id, state.Regions[^1].Id, 1)}");
        reporter.Line("  geoctl tenant create nova --home a --standby-of a=b    geoctl tenant list    (docs/lifecycle.md)");
        reporter.Line($"  admin API: curl -s -H \"Authorization: Bearer $(cat {StackLayout.Show(layout.OperatorKeyFile)})\" http://127.0.0.1:{state.RouterPort}/admin/tenants");
        reporter.Line("  operators: that key is 'bootstrap'; named keys with 'geoctl operator-key add <name>', every admin action in 'geoctl audit'");
        reporter.Line("  geoctl status    geoctl down    geoctl down --purge");
    }

    private async Task<SecretKeyring> LoadOrCreateKeyringAsync(CancellationToken cancellationToken)
    {
        if (File.Exists(layout.KeyringFile))
        {
            return SecretKeyring.Load(layout.KeyringFile);
        }

        var keyring = SecretKeyring.Generate();
        await PrivateFile.WriteAsync(layout.KeyringFile, keyring.Serialize(), cancellationToken);
        return keyring;
    }

    private static async Task EnsureDatabaseAsync(PostgresCluster cluster, string name, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(cluster.ConnectionString());
        await connection.OpenAsync(cancellationToken);
        await ShardDatabase.CreateIfMissingAsync(connection, name, cancellationToken);
    }

    private static async Task<ShardMigrationSummary> MigrateShardsAsync(PlatformDatabases databases, CancellationToken cancellationToken)
    {
        var migrator = new ShardMigrator(databases);
        var directory = await migrator.ReadDirectoryAsync(cancellationToken);
        // A shard being created or retired is its lifecycle command's business, not up's.
        var summary = await migrator.MigrateAsync(directory.Shards.Where(s => s.State == "active").ToList(), null, cancellationToken);
        if (summary.Failed > 0)
        {
            throw new StackException("migrating the shards failed: " + string.Join("; ", summary.Results.Where(r => r.Outcome == ShardMigrationOutcome.Failed).Select(r => $"{r.Database} in {r.Region}: {r.Reason}")));
        }

        return summary;
    }

    private static string Describe(MigrationReport report) =>
        report.Applied.Count == 0 ? "up to date" : $"applied {string.Join(", ", report.Applied.Select(m => m.FileName))}";

    private static void Validate(UpOptions options)
    {
        if (options.Regions.Count == 0 || options.Regions.Distinct(StringComparer.Ordinal).Count() != options.Regions.Count)
        {
            throw new StackException("--regions needs one or more distinct region ids");
        }

        foreach (var region in options.Regions)
        {
            try
            {
                _ = ShardDatabase.Name("probe", region);
            }
            catch (ArgumentException ex)
            {
                throw new StackException(ex.Message);
            }
        }

        if (options.SubscribersPerShard is < 0 or > 10_000_000)
        {
            throw new StackException("--subscribers must be between 0 and 10,000,000");
        }
    }
}
