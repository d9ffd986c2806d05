using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Geo.Ctl.LocalStack;
using Geo.Ctl.NasConfig;
using Geo.Ctl.Tenants;
using Geo.Directory.Recovery;
using Geo.Directory.Shards;
using Geo.Engines.Postgres;
using Geo.Engines.Redis;
using Geo.Engines.Services;
using Geo.Engines;
using Geo.Provisioning.NasConfig;
using Geo.Radius.Dictionary;
using Geo.Radius.Nas;
using Geo.Replication.Promotion;
using Npgsql;

namespace Geo.Ctl.Drill;

/// <summary>
/// <c>geoctl drill</c> on the local stack: load from the region's NAS, the fault, the promotion (or switchover), the load at the
/// new owner, the region restored, rejoined and failed back, the load finished; then the measurements and the report.
/// </summary>
internal sealed class DrillRunner(StackLayout layout, DrillOptions options, Reporter reporter)
{
    /// <summary>How long the drill waits for the journals to hand their accounting to the owner before it counts what is missing.</summary>
    private static readonly TimeSpan JournalDrainWait = TimeSpan.FromSeconds(60);

    private readonly DrillRecorder _recorder = new();
    private readonly List<TimelineMarker> _markers = [];
    private readonly Dictionary<int, double> _lag = [];
    private readonly List<GeoctlRun> _commands = [];
    private readonly string _runId = Guid.NewGuid().ToString("N")[..8];
    private string _phase = "load";

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        if (await StackState.LoadAsync(layout, cancellationToken) is null)
        {
            RequireDeploymentDrill();
        }

        foreach (var (option, file) in new[] { ("--nas-secret-file", options.NasSecretFile), ("--subscribers-file", options.SubscribersFile) })
        {
            if (file is not null && !File.Exists(file))
            {
                throw new StackException($"{option} {file}: no such file");
            }
        }

        System.IO.Directory.CreateDirectory(options.OutDirectory);
        await using var commandLog = new StreamWriter(Path.Combine(options.OutDirectory, "commands.log"), append: false) { AutoFlush = true };
        var geoctl = new GeoctlProcess(layout.Root, _recorder, text =>
        {
            lock (commandLog)
            {
                commandLog.WriteLine(text);
            }

            reporter.Line(text);
        });

        await using var platform = await Platform.OpenAsync(layout, cancellationToken, requireRegions: false);
        var (shards, standby, nas) = await PlanAsync(platform, cancellationToken);
        var report = new DrillReport
        {
            Scenario = DrillOptions.Name(options.Scenario),
            Region = options.Region,
            Standby = standby,
            Shards = [.. shards.Select(s => s.Key.ToString())],
            RunId = _runId,
            StartedAt = _recorder.StartedAt,
            LoginsPerSecond = options.AuthRate,
            AccountingPerSecond = options.AuthRate * (options.Interims + 2),
            Interims = options.Interims,
            Nas = [.. nas.Select(n => n.Client.NasId)],
            Promotion = options.Scenario == DrillScenario.Switchover ? "switchover" : options.AutoPromote ? "auto" : "manual",
            MaxRtoSeconds = options.MaxRtoSeconds,
            MaxRpoSeconds = options.MaxRpoSeconds,
        };
        reporter.Line($"drill {report.Scenario} of region {options.Region} (standby {standby}), run {_runId}: shards {string.Join(", ", report.Shards)}; " +
            $"NAS {string.Join(", ", report.Nas)} log in {options.AuthRate:N0}/s, each session Start + {options.Interims} Interim-Update(s) + Stop every " +
            $"{options.Interval.TotalSeconds:F0} s = {report.AccountingPerSecond:N0} accounting requests/s; fault at {options.EffectiveFaultAt.TotalSeconds:F0} s; " +
            $"timeout {FailoverTiming.TimeoutSeconds} s x {FailoverTiming.Attempts} per endpoint, dead time {FailoverTiming.DeadTimeSeconds} s (as 'geoctl nas-config' configures a NAS)");

        await ResetNasAsync(nas, cancellationToken);
        await using var simulator = new NasSimulator(nas, _recorder, options.Interims, options.Interval, _runId);
        using var stopLoad = new CancellationTokenSource();
        using var stopWatchers = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var load = simulator.RunAsync(options.AuthRate, stopLoad.Token);
        var watchers = Task.WhenAll(SampleLagAsync(platform, shards, stopWatchers.Token), ShowProgressAsync(simulator, stopWatchers.Token));
        try
        {
            await DelayUntilAsync(options.EffectiveFaultAt.TotalSeconds, cancellationToken);
            await RunCycleAsync(platform, geoctl, shards, standby, report, cancellationToken);
            _phase = "load until the end";
            await DelayUntilAsync(options.Duration.TotalSeconds, cancellationToken);
        }
        catch (DrillFailedException ex)
        {
            // The cycle stopped at a runbook step: what was measured until then is still reported.
            report.Aborted = ex.Message;
            Mark("drill stopped");
        }
        finally
        {
            _phase = "sessions ending";
            await stopLoad.CancelAsync();
            await load;
            await stopWatchers.CancelAsync();
            await watchers;
        }

        Mark("load over");
        if (report.Aborted is null)
        {
            reporter.Line($"  {_recorder.Now,5:F0} s  load over: every session ended; measuring");
            await FinalChecksAsync(platform, geoctl, shards, report, cancellationToken);
        }

        var requests = _recorder.Snapshot();
        report.Complete(requests, _markers, _lag, _commands, options);
        await report.WriteAsync(options.OutDirectory, requests, cancellationToken);
        foreach (var line in report.Summary(options.OutDirectory))
        {
            reporter.Line(line);
        }

        if (report.Aborted is not null)
        {
            throw new DrillFailedException($"{report.Aborted} (the report of what was measured until then is in {options.OutDirectory})");
        }

        return report.Passed ? 0 : 1;
    }

    /// <summary>
    /// No local stack: a deployment's state folder (platform.json), where the drill cannot kill or freeze anything. It runs
    /// the planned switchover of a test tenant, as that tenant's NAS: the operator names the tenant, its NAS's secret and
    /// subscribers it may log in as.
    /// </summary>
    private void RequireDeploymentDrill()
    {
        if (!File.Exists(layout.DeploymentFile))
        {
            throw new StackException(
                $"no local stack in {StackLayout.Show(layout.Root)}: start one with './geo up', or describe a deployment in {StackLayout.Show(layout.DeploymentFile)} (docs/deploy.md)");
        }

        if (options.Scenario != DrillScenario.Switchover)
        {
            throw new StackException($"{DrillOptions.Name(options.Scenario)} kills or freezes the local stack's processes; against a deployment " +
                $"({StackLayout.Show(layout.DeploymentFile)}) the drill is the planned switchover (--scenario switchover) of a test tenant");
        }

        if (options.Tenant is null || options.NasSecretFile is null || options.SubscribersFile is null)
        {
            throw new StackException("against a deployment, name the test tenant (--tenant) and give its NAS's secret (--nas-secret-file) and subscribers " +
                "(--subscribers-file): only that tenant's shard is switched over and back, under its NAS's load");
        }
    }

    /// <summary>The region's shards and their standby, and the NAS whose primary is the region, with their subscribers.</summary>
    private async Task<(IReadOnlyList<Shard> Shards, string Standby, IReadOnlyList<DrillNas> Nas)> PlanAsync(Platform platform, CancellationToken cancellationToken)
    {
        var data = await platform.Directory.LoadAsync(cancellationToken);
        if (data.Regions.All(r => r.Id != options.Region))
        {
            throw new StackException($"no region '{options.Region}' in the directory (regions: {string.Join(", ", data.Regions.Select(r => r.Id))})");
        }

        var shards = data.Shards.Where(s => s.OwnerRegion == options.Region && s.Key.HomeRegion == options.Region && s.State == ShardState.Active)
            .Where(s => options.Tenant is null || s.Key.TenantId == options.Tenant)
            .OrderBy(s => s.Key.ToString(), StringComparer.Ordinal).ToList();
        if (shards.Count == 0)
        {
            throw new StackException($"region {options.Region} owns no shard of its own{(options.Tenant is null ? "" : $" of tenant {options.Tenant}")} that is active: " +
                "fail it back first ('geoctl dr status')");
        }

        var standbys = shards.Select(s => s.StandbyRegion).Distinct().ToList();
        if (standbys is not [{ } standby])
        {
            throw new StackException($"the drill needs every shard of region {options.Region} to stand by in one region: {string.Join(", ", shards.Select(s => $"{s.Key} (standby {s.StandbyRegion ?? "none"})"))}");
        }

        var tenants = shards.ToDictionary(s => s.Key.TenantId, StringComparer.Ordinal);
        var nas = new List<DrillNas>();
        foreach (var client in await NasDirectoryReader.LoadByPrimaryAsync(platform.Databases.DirectoryConnectionString, options.Region, cancellationToken))
        {
            if (!tenants.TryGetValue(client.TenantId, out var shard))
            {
                continue;
            }

            if (client.Backup is null)
            {
                reporter.Line($"  NAS {client.TenantId}/{client.NasId} has no backup region: left out (it cannot fail over)");
                continue;
            }

            var secretFile = options.NasSecretFile ?? layout.NasSecretFile(client.NasId);
            var credentials = options.SubscribersFile ?? layout.CredentialsFile(shard.DatabaseName);
            if (!File.Exists(secretFile) || !File.Exists(credentials))
            {
                reporter.Line($"  NAS {client.TenantId}/{client.NasId}: no demo secret or subscribers in {StackLayout.Show(layout.DemoDirectory)}: left out");
                continue;
            }

            // The demo's suspended subscribers never log in; a subscribers file given is taken as it is.
            var subscribers = Sample(File.ReadLines(credentials).Skip(1)
                .Select(line => line.Split(','))
                .Where(parts => parts.Length >= 2 && (options.SubscribersFile is not null || !IsSuspended(parts[0])))
                .Select(parts => (parts[0], parts[1])), SubscribersPerNas);
            nas.Add(new DrillNas(client, Endpoint(client.Primary.Host, client.Primary.AuthPort), Endpoint(client.Primary.Host, client.Primary.AcctPort),
                Endpoint(client.Backup.Host, client.Backup.AuthPort), Endpoint(client.Backup.Host, client.Backup.AcctPort),
                System.Text.Encoding.UTF8.GetBytes((await File.ReadAllTextAsync(secretFile, cancellationToken)).Trim()), subscribers));
            if (!_nasByTenant.TryGetValue(client.TenantId, out var ids))
            {
                _nasByTenant[client.TenantId] = ids = new HashSet<string>(StringComparer.Ordinal);
            }

            ids.Add(client.NasId);
        }

        if (nas.Count == 0)
        {
            throw new StackException($"no NAS with region {options.Region} as primary and a backup region, with a secret and subscribers to log in as, serves its shards");
        }

        return (shards, standbys[0]!, nas);
    }

    private static IPEndPoint Endpoint(string host, int port) => new(IPAddress.Parse(host), port);

    /// <summary>Subscribers a NAS draws its logins from: enough for minutes of logins, each a different one, at any rate the machine can take.</summary>
    private const int SubscribersPerNas = 100_000;

    /// <summary>
    /// A uniform random sample of <paramref name="size"/> (all when there are fewer), in random order, read in one pass
    /// (reservoir sampling): a million-subscriber shard's credentials are never all held at once.
    /// </summary>
    private static List<(string Username, string Password)> Sample(IEnumerable<(string Username, string Password)> all, int size)
    {
        var sample = new List<(string, string)>(size);
        var seen = 0;
        foreach (var each in all)
        {
            seen++;
            if (sample.Count < size)
            {
                sample.Add(each);
            }
            else if (Random.Shared.Next(seen) is var slot && slot < size)
            {
                sample[slot] = each;
            }
        }

        Random.Shared.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(sample));
        return sample;
    }

    /// <summary>Demo usernames end in their index (<c>acme-a-000123</c>); one in a hundred is suspended and never logs in.</summary>
    private static bool IsSuspended(string username) =>
        int.TryParse(username.AsSpan(username.LastIndexOf('-') + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var index) && Demo.DemoData.IsSuspended(index);

    /// <summary>Each NAS starts as a rebooted one does (Accounting-On): sessions an earlier run left open would hold its subscribers back.</summary>
    private async Task ResetNasAsync(IReadOnlyList<DrillNas> nas, CancellationToken cancellationToken)
    {
        foreach (var device in nas)
        {
            await using var client = OpenNasClient(device);
            var buffer = new byte[4096];
            var id = await client.RentIdentifierAsync(cancellationToken);
            var length = NasLogin.NasStatus(buffer, id, AcctStatusType.AccountingOn, $"drill-{_runId}-on", device.Secret, IPAddress.Parse(device.Client.NasAddress));
            var (answer, _) = await client.ExchangeWithRetriesAsync(id, buffer.AsMemory(0, length), TimeSpan.FromSeconds(5), 3, device.Secret);
            if (answer is null)
            {
                throw new StackException($"NAS {device.Client.NasId}: region {options.Region} did not answer its Accounting-On: is the stack up ('geoctl status')?");
            }
        }
    }

    /// <summary>A client sending from the NAS's address (RADIUS knows a NAS by it), or a clear error where this host does not have it.</summary>
    private static NasRadiusClient OpenNasClient(DrillNas device)
    {
        try
        {
            return new NasRadiusClient(IPAddress.Parse(device.Client.NasAddress), device.PrimaryAcct);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressNotAvailable)
        {
            throw new StackException($"NAS {device.Client.TenantId}/{device.Client.NasId} has address {device.Client.NasAddress}, which this host does not have: " +
                "the drill sends as the NAS, so run it on a host with that address, or register the test tenant a NAS with this host's address ('geoctl nas add')");
        }
    }

    /// <summary>The fault and the recovery the scenario calls for, every step marked on the timeline.</summary>
    private async Task RunCycleAsync(Platform platform, GeoctlProcess geoctl, IReadOnlyList<Shard> shards, string standby, DrillReport report, CancellationToken cancellationToken)
    {
        if (options.Scenario == DrillScenario.Switchover)
        {
            report.FaultAt = Mark("switchover");
            foreach (var shard in shards)
            {
                await MustAsync(geoctl, ["dr", "switchover", shard.Key.ToString(), "--to", standby], cancellationToken);
            }

            report.OwnerServingAt = Mark($"owner {standby}");
            await MeasureRpoAsync(platform, shards, standby, report, cancellationToken);
            await HoldAsync(cancellationToken);
            await FailBackAsync(geoctl, shards, cancellationToken);
            return;
        }

        report.FaultAt = await ApplyFaultAsync(cancellationToken);
        try
        {
            await RecoverAsync(platform, geoctl, shards, standby, report, cancellationToken);
        }
        finally
        {
            // A drill that stops half-way never leaves the region frozen.
            if (options.Scenario == DrillScenario.Partition && !_thawed)
            {
                await SignalRegionAsync("CONT", CancellationToken.None);
            }
        }
    }

    private bool _thawed;

    /// <summary>After a fault: promotion, the load at the new owner, the region restored, rejoined and failed back.</summary>
    private async Task RecoverAsync(Platform platform, GeoctlProcess geoctl, IReadOnlyList<Shard> shards, string standby, DrillReport report, CancellationToken cancellationToken)
    {
        var region = options.Region;
        if (options.AutoPromote)
        {
            _phase = "waiting for automatic failover";
            await WaitForOwnerAsync(platform, shards, standby, cancellationToken);
        }
        else
        {
            _phase = $"operator runs dr promote in {options.PromoteDelay.TotalSeconds:F0} s";
            await Task.Delay(options.PromoteDelay, cancellationToken);
            Mark("promote");
            _phase = "promoting";
            await MustAsync(geoctl, ["dr", "promote", "--region", region, "--to", standby], cancellationToken);
        }

        report.OwnerServingAt = await PromotedAtAsync(platform, shards, report.FaultAt!.Value, cancellationToken);
        Mark($"owner {standby}", report.OwnerServingAt);
        await MeasureRpoAsync(platform, shards, standby, report, cancellationToken);
        await HoldAsync(cancellationToken);

        _phase = $"restoring region {region}";
        Mark("restore");
        if (options.Scenario == DrillScenario.Partition)
        {
            await SignalRegionAsync("CONT", cancellationToken);
            _thawed = true;
        }
        else
        {
            await MustAsync(geoctl, ["up"], cancellationToken);
        }

        _phase = $"rejoining region {region}";
        foreach (var shard in shards)
        {
            await MustAsync(geoctl, ["dr", "rejoin", shard.Key.ToString()], cancellationToken);
        }

        Mark("rejoined");
        (report.MissingAfterRejoin, report.HeldInJournalsAfterRejoin) = await MissingAsync(platform, shards, s => standby, cancellationToken);
        await FailBackAsync(geoctl, shards, cancellationToken);
    }

    private async Task FailBackAsync(GeoctlProcess geoctl, IReadOnlyList<Shard> shards, CancellationToken cancellationToken)
    {
        _phase = $"failing back to region {options.Region}";
        Mark("failback");
        foreach (var shard in shards)
        {
            await MustAsync(geoctl, ["dr", "failback", shard.Key.ToString()], cancellationToken);
        }

        Mark("home");
    }

    private async Task HoldAsync(CancellationToken cancellationToken)
    {
        _phase = $"load at the new owner for {options.Hold.TotalSeconds:F0} s";
        await Task.Delay(options.Hold, cancellationToken);
    }

    /// <summary>Applies the fault to the region's processes; returns its time on the drill's clock.</summary>
    private async Task<double> ApplyFaultAsync(CancellationToken cancellationToken)
    {
        var region = options.Region;
        var postgres = PostgresCluster.Open(layout.RegionPostgres(region))?.ServerPid;
        var node = ServiceProcess.Open(layout.RegionNode(region)).Pid;
        if (postgres is null || node is null)
        {
            throw new StackException($"region {region}'s node or PostgreSQL is not running: start the stack with 'geoctl up'");
        }

        double at;
        switch (options.Scenario)
        {
            case DrillScenario.KillRegion:
                ProcessTree.Kill(node.Value);
                ProcessTree.Kill(postgres.Value);
                at = Mark($"SIGKILL region {region}");
                break;
            case DrillScenario.KillDatabase:
                ProcessTree.Kill(postgres.Value);
                at = Mark($"SIGKILL {region}'s PostgreSQL");
                break;
            default:
                await SignalRegionAsync("STOP", cancellationToken);
                at = Mark($"region {region} cut off");
                break;
        }

        _phase = "fault applied";
        reporter.Line($"  {at,5:F1} s  {_markers[^1].Label} (node pid {node}, PostgreSQL pid {postgres})");
        return at;
    }

    /// <summary>Freezes or thaws every process of the region: node, replicator, Redis, PostgreSQL with its backends.</summary>
    private async Task SignalRegionAsync(string signal, CancellationToken cancellationToken)
    {
        var region = options.Region;
        int?[] pids =
        [
            ServiceProcess.Open(layout.RegionNode(region)).Pid, ServiceProcess.Open(layout.Replicator(region)).Pid,
            RedisServer.Open(layout.RegionRedis(region))?.Pid, PostgresCluster.Open(layout.RegionPostgres(region))?.ServerPid,
        ];
        foreach (var pid in pids.OfType<int>())
        {
            await ProcessTree.SignalAsync(pid, signal, cancellationToken);
        }
    }

    /// <summary>Waits until the directory names the standby the owner of every shard (automatic failover).</summary>
    private async Task WaitForOwnerAsync(Platform platform, IReadOnlyList<Shard> shards, string standby, CancellationToken cancellationToken)
    {
        var deadline = _recorder.Now + options.AutoPromoteWait.TotalSeconds;
        while (true)
        {
            var data = await platform.Directory.LoadAsync(cancellationToken);
            if (shards.All(s => data.Shards.Any(d => d.Key == s.Key && d.OwnerRegion == standby && d.State == ShardState.Active)))
            {
                return;
            }

            if (_recorder.Now > deadline)
            {
                throw new StackException($"no automatic failover to {standby} within {options.AutoPromoteWait.TotalSeconds:F0} s: is the stack up with '--auto-promote-after'?");
            }

            await Task.Delay(250, cancellationToken);
        }
    }

    /// <summary>When the last shard's promotion was done (the DR log's "done"), on the drill's clock.</summary>
    private async Task<double> PromotedAtAsync(Platform platform, IReadOnlyList<Shard> shards, double faultAt, CancellationToken cancellationToken)
    {
        var events = await platform.Directory.ListDrEventsAsync(null, 500, cancellationToken);
        var done = shards.Select(s => events.LastOrDefault(e => e.Shard == s.Key && e.Operation == DrOperations.Promote && e.Outcome == DrOutcomes.Done && _recorder.At(e.At) > faultAt))
            .ToList();
        return done.All(e => e is not null) ? done.Max(e => _recorder.At(e!.At)) : _recorder.Now;
    }

    /// <summary>
    /// The RPO, measured: accounting the old owner acknowledged that its standby lacks right after the promotion (count and
    /// the time from the last acknowledged request it has to the last it lacks), next to the promotion's estimate. A
    /// switchover must lose none at all.
    /// </summary>
    private async Task MeasureRpoAsync(Platform platform, IReadOnlyList<Shard> shards, string newOwner, DrillReport report, CancellationToken cancellationToken)
    {
        var events = await platform.Directory.ListDrEventsAsync(null, 500, cancellationToken);
        var requests = _recorder.Snapshot();
        foreach (var shard in shards)
        {
            var nas = NasOf(shard);
            var acknowledged = requests.Where(r => r.Acknowledged && r.AnsweredBy == options.Region && nas.Contains(r.NasId) && r.AnsweredAt <= report.FaultAt).ToList();
            var present = await DrillChecks.ReadAsync(platform.Databases.Database(newOwner, shard.DatabaseName), _runId, cancellationToken);
            var missing = acknowledged.Where(r => !present.Holds(r)).ToList();
            var lastPresent = acknowledged.Where(present.Holds).Select(r => r.AnsweredAt!.Value).DefaultIfEmpty(0).Max();
            var seconds = missing.Count == 0 ? 0 : Math.Max(0, missing.Max(r => r.AnsweredAt!.Value) - lastPresent);
            var estimate = events.LastOrDefault(e => e.Shard == shard.Key && e.Operation == DrOperations.Promote && e.Step.StartsWith("5 ", StringComparison.Ordinal)
                && _recorder.At(e.At) > report.FaultAt);
            double? estimated = options.Scenario == DrillScenario.Switchover ? 0 : EstimateSeconds(estimate);
            report.Rpo.Add(new RpoMeasurement(shard.Key.ToString(), acknowledged.Count, missing.Count, seconds, estimated, estimate?.Detail));
            reporter.Line($"  {_recorder.Now,5:F1} s  RPO {shard.Key}: {missing.Count:N0} of {acknowledged.Count:N0} acknowledged accounting requests missing at {newOwner} " +
                $"({seconds * 1000:F0} ms); estimate {(estimated is { } e ? $"{e * 1000:F0} ms" : "unknown")}");
        }
    }

    private static double? EstimateSeconds(DrEvent? estimate)
    {
        if (estimate?.DataJson is not { } json)
        {
            return null;
        }

        using var document = JsonDocument.Parse(json);
        return document.RootElement.TryGetProperty("known", out var known) && known.GetBoolean() && document.RootElement.TryGetProperty("seconds", out var seconds)
            ? seconds.GetDouble() : null;
    }

    /// <summary>
    /// Acknowledged accounting of the shards not in their owner's database (<paramref name="owner"/>), once the
    /// survivability journals have handed theirs over (waited for up to a minute): lost is what is neither at the owner nor
    /// in a journal (must be 0); held is what a journal still holds (acknowledged and durable there, not at the owner yet).
    /// </summary>
    private async Task<(long Lost, long Held)> MissingAsync(Platform platform, IReadOnlyList<Shard> shards, Func<Shard, string> owner, CancellationToken cancellationToken)
    {
        var journals = platform.Databases.Regions.Select(r => platform.Databases.Database(r, "geo_journal")).ToList();
        var deadline = _recorder.Now + JournalDrainWait.TotalSeconds;
        long missing = 0;
        long heldInJournals = 0;
        foreach (var shard in shards)
        {
            while (await DrillChecks.JournalledAsync(journals, shard.Key.TenantId, shard.Key.HomeRegion, cancellationToken) > 0 && _recorder.Now < deadline)
            {
                await Task.Delay(250, cancellationToken);
            }

            // What was acknowledged before the reads; the journals read before the owner: an entry handed over in between is
            // then seen in one of them (the owner commits it before the journal lets it go).
            var nas = NasOf(shard);
            var acknowledged = _recorder.Snapshot().Where(r => r.Acknowledged && nas.Contains(r.NasId)).ToList();
            var journalled = await DrillChecks.JournalHeldAsync(journals, shard.Key.TenantId, shard.Key.HomeRegion, _runId, cancellationToken);
            var present = await DrillChecks.ReadAsync(platform.Databases.Database(owner(shard), shard.DatabaseName), _runId, cancellationToken);
            var absent = acknowledged.Where(r => !present.Holds(r)).ToList();
            var held = absent.Where(r => journalled.Contains((r.SessionId, (uint)StatusOf(r.Kind), r.InputOctets))).ToList();
            var lost = absent.Except(held).ToList();
            missing += lost.Count;
            heldInJournals += held.Count;
            reporter.Line($"  {_recorder.Now,5:F1} s  {shard.Key} at {owner(shard)}: {lost.Count:N0} acknowledged accounting requests lost" +
                (lost.Count == 0 ? "" : $" (e.g. {string.Join(", ", lost.Take(3).Select(r => $"{r.SessionId} {r.Kind} answered by {r.AnsweredBy} at {r.AnsweredAt:F2} s"))})") +
                (held.Count == 0 ? "" : $"; {held.Count:N0} still held in a survivability journal (acknowledged there, not handed to the owner yet)"));
        }

        return (missing, heldInJournals);
    }

    private static AcctStatusType StatusOf(RequestKind kind) => kind switch
    {
        RequestKind.Start => AcctStatusType.Start,
        RequestKind.Interim => AcctStatusType.InterimUpdate,
        _ => AcctStatusType.Stop,
    };

    private HashSet<string> NasOf(Shard shard) => _nasByTenant.TryGetValue(shard.Key.TenantId, out var ids) ? ids : [];

    private readonly Dictionary<string, HashSet<string>> _nasByTenant = new(StringComparer.Ordinal);

    /// <summary>After the load: nothing acknowledged missing at home, nobody charged twice, the books, the replica.</summary>
    private async Task FinalChecksAsync(Platform platform, GeoctlProcess geoctl, IReadOnlyList<Shard> shards, DrillReport report, CancellationToken cancellationToken)
    {
        (report.MissingAtEnd, report.HeldInJournalsAtEnd) = await MissingAsync(platform, shards, s => options.Region, cancellationToken);
        foreach (var shard in shards)
        {
            report.DoubleCharged.AddRange(await DrillChecks.DoubleChargedAsync(platform.Databases.Database(options.Region, shard.DatabaseName), _runId, cancellationToken));
        }

        report.CheckLedgerExit = (await RunAsync(geoctl, options.Tenant is { } tenant ? ["check-ledger", "--tenant", tenant] : ["check-ledger"], cancellationToken)).ExitCode;
        report.VerifyExit = 0;
        foreach (var shard in shards)
        {
            report.VerifyExit = Math.Max(report.VerifyExit, (await RunAsync(geoctl, ["verify", shard.Key.ToString()], cancellationToken)).ExitCode);
        }
    }

    private async Task<GeoctlRun> RunAsync(GeoctlProcess geoctl, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var run = await geoctl.RunAsync(arguments, cancellationToken);
        lock (_commands)
        {
            _commands.Add(run);
        }

        return run;
    }

    /// <summary>A step of the runbook: the drill cannot go on when it fails.</summary>
    private async Task MustAsync(GeoctlProcess geoctl, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var run = await RunAsync(geoctl, arguments, cancellationToken);
        if (run.ExitCode != 0)
        {
            throw new DrillFailedException($"'{run.Command}' failed (exit {run.ExitCode}); the stack is left as it is: 'geoctl dr status' shows where each shard stands");
        }
    }

    private double Mark(string label, double? at = null)
    {
        var time = at ?? _recorder.Now;
        lock (_markers)
        {
            _markers.Add(new TimelineMarker(time, label));
        }

        return time;
    }

    private async Task DelayUntilAsync(double second, CancellationToken cancellationToken)
    {
        var wait = second - _recorder.Now;
        if (wait > 0)
        {
            await Task.Delay(TimeSpan.FromSeconds(wait), cancellationToken);
        }
    }

    /// <summary>Once a second: how far behind the shards' standby replica is (the worst shard), for the timeline.</summary>
    private async Task SampleLagAsync(Platform platform, IReadOnlyList<Shard> shards, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                double? worst = null;
                try
                {
                    var data = await platform.Directory.LoadAsync(cancellationToken);
                    foreach (var shard in data.Shards.Where(d => shards.Any(s => s.Key == d.Key)))
                    {
                        if (shard.StandbyRegion is not { } standby || shard.State != ShardState.Active)
                        {
                            continue;
                        }

                        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                        timeout.CancelAfter(TimeSpan.FromMilliseconds(800));
                        var position = await ReplicaPromotion.ReadPositionAsync(platform.Databases.Database(standby, shard.DatabaseName), timeout.Token);
                        if (position?.AppliedCommitTime is { } applied)
                        {
                            var lag = Math.Max(0, (DateTimeOffset.UtcNow - applied).TotalSeconds);
                            worst = Math.Max(worst ?? 0, lag);
                        }
                    }
                }
                catch (Exception ex) when (ex is NpgsqlException or OperationCanceledException or TimeoutException && !cancellationToken.IsCancellationRequested)
                {
                    // A replica that cannot be read now (its region frozen or restarting) has no lag to show this second.
                }

                if (worst is { } value)
                {
                    lock (_lag)
                    {
                        _lag[(int)_recorder.Now] = value;
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The load is over.
        }
    }

    /// <summary>A line every 5 s: what was sent, answered by each region, rejected, unanswered, and the phase.</summary>
    private async Task ShowProgressAsync(NasSimulator simulator, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(5));
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                var requests = _recorder.Snapshot();
                var byRegion = requests.Where(r => r.AnsweredBy is not null).GroupBy(r => r.AnsweredBy!).OrderBy(g => g.Key, StringComparer.Ordinal)
                    .Select(g => $"{g.Key} {g.Count():N0}");
                var rejected = requests.Count(r => r.Kind == RequestKind.Login && r.Code == (byte)Geo.Radius.RadiusCode.AccessReject);
                var unanswered = requests.Count(r => r.Sends > 0 && r.AnsweredBy is null);
                reporter.Line($"  {_recorder.Now,5:F0} s  {simulator.Released:N0} logins, {requests.Count:N0} requests; answered by {string.Join(", ", byRegion)}; " +
                    $"{rejected:N0} rejected, {unanswered:N0} unanswered; {_phase}");
            }
        }
        catch (OperationCanceledException)
        {
            // The load is over.
        }
    }
}

/// <summary>A runbook step of the drill failed: the drill stops and says which.</summary>
internal sealed class DrillFailedException(string message) : Exception(message);
