using System.CommandLine;
using System.Globalization;
using Geo.Ctl.LocalStack;
using Geo.Ctl.Operators;
using Geo.Directory;
using Geo.Directory.Shards;
using Geo.Engines;
using Geo.Provisioning;
using Geo.Schema.Migrations;
using Npgsql;

namespace Geo.Ctl.Tenants;

/// <summary>
/// <c>geoctl tenant create|add-region|retire-shard|list|show|rotate-key</c>: the tenant lifecycle on the local
/// stack's platform. Every command is resumable: interrupted, it is finished by running it again.
/// </summary>
internal static class TenantCommand
{
    public static Command Create(Option<string> stateDir, TextWriter output, TextWriter error)
    {
        var command = new Command("tenant", "Onboard, extend, inspect and retire tenants (ISPs)");
        command.Subcommands.Add(CreateCommand(stateDir, output, error));
        command.Subcommands.Add(AddRegionCommand(stateDir, output, error));
        command.Subcommands.Add(RetireShardCommand(stateDir, output, error));
        command.Subcommands.Add(ListCommand(stateDir, output, error));
        command.Subcommands.Add(ShowCommand(stateDir, output, error));
        command.Subcommands.Add(RotateKeyCommand(stateDir, output, error));
        return command;
    }

    private static Command CreateCommand(Option<string> stateDir, TextWriter output, TextWriter error)
    {
        var tenant = new Argument<string>("tenant") { Description = "Tenant id: lower-case letters, digits and '_' (part of database names)" };
        var homes = new Option<string[]>("--home") { Description = "A home region (repeat for several); a shard geo_<tenant>_<region> is created in each", AllowMultipleArgumentsPerToken = true };
        var standbyOf = new Option<string?>("--standby-of") { Description = "Standby region of each home, e.g. a=b,b=a (default with two regions: the other one)" };
        var name = new Option<string?>("--name") { Description = "Display name (default: the id)" };
        var abort = new Option<bool>("--abort") { Description = "Undo an unfinished creation: remove what it left (replication, slots, databases, directory entries)" };
        var timeout = new Option<int>("--replication-timeout") { Description = "Seconds to wait for each standby's replicator to start streaming", DefaultValueFactory = _ => 120 };
        var create = new Command("create", "Create a tenant: shard databases, replicas in the standby regions, directory entries at epoch 1, API key")
        {
            tenant, homes, standbyOf, name, abort, timeout,
        };
        create.SetAction((result, ct) => RunAsync(result, stateDir, output, error, result.GetValue(abort)
            ? new AuditedAction("tenant.abort", result.GetValue(tenant))
            : new AuditedAction("tenant.create", result.GetValue(tenant), new { homes = result.GetValue(homes), standbyOf = result.GetValue(standbyOf), displayName = result.GetValue(name) }),
            async (platform, reporter) =>
        {
            var id = result.GetValue(tenant)!;
            var provisioner = Provisioner(platform, reporter, result.GetValue(timeout));
            if (result.GetValue(abort))
            {
                reporter.Line($"Aborting the creation of tenant {id}");
                var removed = await provisioner.AbortAsync(id, removeTenant: true, ct);
                reporter.Line($"Removed {removed} unfinished shard(s) of {id}.");
                return 0;
            }

            var regions = await RegionsAsync(platform, ct);
            var plan = Plan(result.GetValue(homes) ?? [], result.GetValue(standbyOf), regions);
            reporter.Line($"Creating tenant {id}: {string.Join(", ", plan.Select(p => $"{id}@{p.Home}{(p.Standby is { } s ? $" (standby {s})" : " (no standby)")}"))}");
            var created = await provisioner.CreateAsync(id, result.GetValue(name) ?? id, plan, ct);
            PrintCreated(reporter, created);
            return 0;
        }));
        return create;
    }

    private static Command AddRegionCommand(Option<string> stateDir, TextWriter output, TextWriter error)
    {
        var tenant = new Argument<string>("tenant") { Description = "Tenant id" };
        var region = new Argument<string>("region") { Description = "The new home region" };
        var standby = new Option<string?>("--standby") { Description = "Its standby region (default with two regions: the other one)" };
        var noStandby = new Option<bool>("--no-standby") { Description = "No replica for this shard (not geo-redundant)" };
        var timeout = new Option<int>("--replication-timeout") { Description = "Seconds to wait for the standby's replicator to start streaming", DefaultValueFactory = _ => 120 };
        var abort = new Option<bool>("--abort") { Description = "Undo an unfinished add-region: remove the new shard's replication, slot, databases and directory entry" };
        var add = new Command("add-region", "Give an existing tenant a shard in another home region (same steps as create)") { tenant, region, standby, noStandby, timeout, abort };
        add.SetAction((result, ct) => RunAsync(result, stateDir, output, error, result.GetValue(abort)
            ? new AuditedAction("tenant.region.abort", result.GetValue(tenant))
            : new AuditedAction("tenant.region.add", result.GetValue(tenant), new { region = result.GetValue(region), standby = result.GetValue(standby), noStandby = result.GetValue(noStandby) }),
            async (platform, reporter) =>
        {
            var id = result.GetValue(tenant)!;
            var home = result.GetValue(region)!;
            if (result.GetValue(abort))
            {
                reporter.Line($"Aborting the new shards of tenant {id}");
                var removed = await Provisioner(platform, reporter, 120).AbortAsync(id, removeTenant: false, ct);
                reporter.Line($"Removed {removed} unfinished shard(s) of {id}; the tenant and its other shards stay.");
                return 0;
            }

            var regions = await RegionsAsync(platform, ct);
            var standbyRegion = result.GetValue(noStandby) ? null : result.GetValue(standby) ?? DefaultStandby(home, regions);
            reporter.Line($"Adding shard {id}@{home}{(standbyRegion is { } s ? $" (standby {s})" : " (no standby)")}");
            var created = await Provisioner(platform, reporter, result.GetValue(timeout)).AddRegionAsync(id, new ShardPlan(home, standbyRegion), ct);
            PrintCreated(reporter, created);
            return 0;
        }));
        return add;
    }

    private static Command RetireShardCommand(Option<string> stateDir, TextWriter output, TextWriter error)
    {
        var tenant = new Argument<string>("tenant") { Description = "Tenant id" };
        var region = new Argument<string>("region") { Description = "Home region of the shard to retire" };
        var force = new Option<bool>("--force") { Description = "Retire even though the shard still has subscribers (they are deleted with it)" };
        var archive = new Option<string?>("--archive") { Description = "Folder to write a pg_dump of the shard database to before it is dropped" };
        var retire = new Command("retire-shard", "Retire a shard: stop replication, drop slot, publication and databases, remove its directory entries")
        {
            tenant, region, force, archive,
        };
        retire.SetAction((result, ct) => RunAsync(result, stateDir, output, error,
            new AuditedAction("tenant.shard.retire", result.GetValue(tenant), new { region = result.GetValue(region), force = result.GetValue(force), archive = result.GetValue(archive) }),
            async (platform, reporter) =>
        {
            var id = result.GetValue(tenant)!;
            var home = result.GetValue(region)!;
            var folder = result.GetValue(archive);
            reporter.Line($"Retiring shard {id}@{home}");
            await Provisioner(platform, reporter, 120).RetireShardAsync(id, home, result.GetValue(force),
                folder is null ? null : (owner, database, token) => platform.ArchiveAsync(folder, owner, database, token), ct);
            reporter.Line($"Shard {id}@{home} retired: no slot, publication, database or directory entry of it is left.");
            return 0;
        }));
        return retire;
    }

    private static Command ListCommand(Option<string> stateDir, TextWriter output, TextWriter error)
    {
        var list = new Command("list", "Every tenant: its shards with owner, standby, epoch, state, subscribers and replication lag");
        list.SetAction((result, ct) => RunAsync(result, stateDir, output, error, async (platform, reporter) =>
        {
            var reports = await new TenantReports(platform.Directory, platform.Databases).ReadAsync(null, ct);
            reporter.Line($"{"tenant",-16} {"shards",-7} {"subscribers",12} {"NAS",4}  shards (state, owner → standby)");
            foreach (var report in reports)
            {
                reporter.Line($"{report.Tenant.Id,-16} {report.Shards.Count,-7} {report.Shards.Sum(s => s.Subscribers ?? 0),12:N0} {report.Nas.Count,4}  " +
                    string.Join("; ", report.Shards.Select(s => $"{s.Shard.Key} {ShardStates.ToText(s.Shard.State)}, {s.Shard.OwnerRegion} → {s.Shard.StandbyRegion ?? "-"}")));
            }

            return 0;
        }));
        return list;
    }

    private static Command ShowCommand(Option<string> stateDir, TextWriter output, TextWriter error)
    {
        var tenant = new Argument<string>("tenant") { Description = "Tenant id" };
        var show = new Command("show", "One tenant: shards (owner, standby, epoch, state, database, subscribers, replication slot and lag) and NAS") { tenant };
        show.SetAction((result, ct) => RunAsync(result, stateDir, output, error, async (platform, reporter) =>
        {
            var report = (await new TenantReports(platform.Directory, platform.Databases).ReadAsync(result.GetValue(tenant)!, ct))[0];
            reporter.Line($"Tenant {report.Tenant.Id} ({report.Tenant.DisplayName})");
            reporter.Line($"  {"shard",-14} {"state",-12} {"owner",-6} {"standby",-8} {"epoch",5} {"subscribers",12}  replication");
            foreach (var shard in report.Shards)
            {
                var replication = shard.Slot is null ? "none"
                    : shard.SlotActive is null ? $"slot {shard.Slot} missing"
                    : $"slot {shard.Slot} {(shard.SlotActive == true ? "streaming" : "NOT STREAMING")}, {Lag(shard)}";
                reporter.Line($"  {shard.Shard.Key.ToString(),-14} {ShardStates.ToText(shard.Shard.State),-12} {shard.Shard.OwnerRegion,-6} {shard.Shard.StandbyRegion ?? "-",-8} " +
                    $"{shard.Shard.Epoch,5} {(shard.Subscribers is { } n ? n.ToString("N0", CultureInfo.InvariantCulture) : "?"),12}  {replication}{(shard.Error is { } e ? $"  ({e})" : "")}");
            }

            reporter.Line($"  NAS: {(report.Nas.Count == 0 ? "none" : string.Join(", ", report.Nas.Select(n => $"{n.Id} {n.Address} ({n.PrimaryRegion}{(n.BackupRegion is { } b ? $", backup {b}" : "")})")))}");
            return 0;
        }));
        return show;
    }

    private static Command RotateKeyCommand(Option<string> stateDir, TextWriter output, TextWriter error)
    {
        var tenant = new Argument<string>("tenant") { Description = "Tenant id" };
        var rotate = new Command("rotate-key", "Issue a new API key for a tenant; the old one stops working at once") { tenant };
        rotate.SetAction((result, ct) => RunAsync(result, stateDir, output, error, new AuditedAction("tenant.key.rotate", result.GetValue(tenant)), async (platform, reporter) =>
        {
            var id = result.GetValue(tenant)!;
            var key = await Provisioner(platform, reporter, 120).RotateApiKeyAsync(id, ct);
            reporter.Line($"New API key of {id} (shown once; also kept in {StackLayout.Show(platform.Layout.ApiKeyFile(id))}):");
            reporter.Line($"  {key}");
            return 0;
        }));
        return rotate;
    }

    private static string Lag(ShardReport shard) =>
        $"{(shard.LagBytes is { } bytes ? $"{bytes.ToString("N0", CultureInfo.InvariantCulture)} bytes" : "? bytes")}" +
        $"{(shard.LagSeconds is { } seconds ? $", {seconds:F1} s behind" : "")}";

    private static TenantProvisioner Provisioner(Platform platform, Reporter reporter, int timeoutSeconds) =>
        new(platform.Directory, platform.Databases, reporter, new ProvisioningOptions { ReplicationTimeout = TimeSpan.FromSeconds(Math.Max(1, timeoutSeconds)) }, platform.Keys);

    private static void PrintCreated(Reporter reporter, TenantCreated created)
    {
        reporter.Line("");
        foreach (var shard in created.Shards)
        {
            reporter.Line($"  {shard.Key}: {ShardStates.ToText(shard.State)}, owner {shard.OwnerRegion}, standby {shard.StandbyRegion ?? "none"}, epoch {shard.Epoch}, database {shard.DatabaseName}");
        }

        if (created.ApiKey is { } key)
        {
            reporter.Line($"API key of {created.TenantId} ({created.ApiKeyNote}; shown once):");
            reporter.Line($"  {key}");
        }
        else
        {
            reporter.Line($"API key of {created.TenantId}: {created.ApiKeyNote}");
        }
    }

    internal static async Task<IReadOnlyList<string>> RegionsAsync(Platform platform, CancellationToken cancellationToken) =>
        (await platform.Directory.LoadAsync(cancellationToken)).Regions.Select(r => r.Id).ToList();

    /// <summary>The shards to create from <c>--home</c> and <c>--standby-of</c>.</summary>
    internal static IReadOnlyList<ShardPlan> Plan(IReadOnlyList<string> homeArguments, string? standbyOf, IReadOnlyList<string> regions)
    {
        var homes = homeArguments.SelectMany(h => h.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();
        if (homes.Count == 0)
        {
            throw new ProvisioningException("give the tenant's home region(s) with --home");
        }

        var standbys = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var pair in (standbyOf ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = pair.Split('=', StringSplitOptions.TrimEntries);
            if (parts is not [{ Length: > 0 } home, var standby] || !standbys.TryAdd(home, standby.Length == 0 || standby == "none" ? null : standby))
            {
                throw new ProvisioningException($"--standby-of: '{pair}' is not home=standby (e.g. a=b,b=a; a=none for no standby), or names a home twice");
            }
        }

        if (standbys.Keys.FirstOrDefault(h => !homes.Contains(h)) is { } stray)
        {
            throw new ProvisioningException($"--standby-of names {stray}, which is not a --home");
        }

        return homes.Select(home => new ShardPlan(home, standbys.TryGetValue(home, out var standby) ? standby : DefaultStandby(home, regions))).ToList();
    }

    private static string DefaultStandby(string home, IReadOnlyList<string> regions) =>
        regions.Count == 2 && regions.Contains(home)
            ? regions.Single(r => r != home)
            : throw new ProvisioningException($"say which region stands by for {home} (--standby-of {home}=<region>, or {home}=none): the platform has regions {string.Join(", ", regions)}");

    /// <summary>Runs a command that only reads (list, show): no operator key is asked for and nothing is audited.</summary>
    internal static Task<int> RunAsync(ParseResult result, Option<string> stateDir, TextWriter output, TextWriter error, Func<Platform, Reporter, Task<int>> action) =>
        RunAsync(result, stateDir, output, error, audited: null, action);

    /// <summary>
    /// Runs a command; one that changes something (<paramref name="audited"/>) runs only for a working operator key
    /// (<c>--operator-key-file</c>, default the stack's operator.key) and leaves an audit entry, refused and failed ones too.
    /// </summary>
    internal static async Task<int> RunAsync(
        ParseResult result, Option<string> stateDir, TextWriter output, TextWriter error, AuditedAction? audited, Func<Platform, Reporter, Task<int>> action)
    {
        try
        {
            await using var platform = await Platform.OpenAsync(new StackLayout(result.GetValue(stateDir)!), CancellationToken.None);
            return audited is null
                ? await action(platform, new Reporter(output))
                : await audited.RunAsync(platform, result.GetValue<string?>(AuditedAction.KeyFileOption), () => action(platform, new Reporter(output)), error);
        }
        catch (Exception ex) when (ex is ProvisioningException or StackException or EngineException or MigrationException or NpgsqlException or DirectoryStoreException or IOException)
        {
            await error.WriteLineAsync($"geoctl: {ex.Message}");
            return ex is ProvisioningException ? 1 : 2;
        }
        catch (OperationCanceledException)
        {
            await error.WriteLineAsync("geoctl: cancelled; run the command again to resume it");
            return 130;
        }
    }
}
