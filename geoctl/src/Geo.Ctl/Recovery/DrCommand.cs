using System.CommandLine;
using System.Globalization;
using Geo.Ctl.LocalStack;
using Geo.Ctl.Operators;
using Geo.Ctl.Tenants;
using Geo.Directory;
using Geo.Directory.Shards;
using Geo.Engines;
using Geo.Provisioning;
using Geo.Provisioning.Recovery;
using Geo.Provisioning.Recovery.Rejoin;
using Geo.Replication.Promotion;
using Npgsql;

namespace Geo.Ctl.Recovery;

/// <summary><c>geoctl dr</c>: disaster recovery — promote a lost region's shards at their standby, show where each shard stands, the DR log.</summary>
internal static class DrCommand
{
    /// <summary>A standby whose replica heard nothing from its source for longer than this is not healthy.</summary>
    public static readonly TimeSpan HealthyHeardWithin = TimeSpan.FromSeconds(90);

    public static Command Create(Option<string> stateDir, TextWriter output, TextWriter error) =>
        new("dr", "Disaster recovery: promote a lost region's shards at their standby, rejoin a region that is back, switch a shard over with nothing lost, fail back home, show the shards' owners, leases and standbys, the DR log")
        {
            Promote(stateDir, output, error),
            Rejoin(stateDir, output, error),
            Switchover(stateDir, output, error),
            Failback(stateDir, output, error),
            Status(stateDir, output, error),
            Log(stateDir, output, error),
        };

    private static Command Promote(Option<string> stateDir, TextWriter output, TextWriter error)
    {
        var shard = new Argument<string?>("shard") { Description = "The shard to promote: tenant@homeregion (e.g. acme@a); or use --region", Arity = ArgumentArity.ZeroOrOne };
        var region = new Option<string?>("--region") { Description = "Promote every shard this (lost) region owns" };
        var to = new Option<string>("--to") { Description = "The region to make the owner: the shard's standby", Required = true };
        var force = new Option<bool>("--force") { Description = "Skip the standby's readiness checks (never the wait for the old owner's lease)" };
        var command = new Command("promote", "Unplanned failover: make the standby region the owner of a shard whose owner is lost (exit 0 done, 1 failed, 2 refused)")
        {
            shard, region, to, force,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var name = result.GetValue(shard);
            var lost = result.GetValue(region);
            if ((name is null) == (lost is null))
            {
                await error.WriteLineAsync("geoctl: name one shard (tenant@home) or --region <lost region>, not both");
                return 2;
            }

            ShardKey key = default;
            if (name is not null && !ShardKey.TryParse(name, out key))
            {
                await error.WriteLineAsync("geoctl: the shard is tenant@homeregion (e.g. acme@a)");
                return 2;
            }

            var audited = new AuditedAction("dr.promote", name is null ? null : key.TenantId, new { shard = name, region = lost, to = result.GetValue(to), force = result.GetValue(force) });
            return await RunAsync(result, stateDir, output, error, audited, async (platform, reporter) =>
            {
                var identity = await platform.IdentifyOperatorAsync(result.GetValue<string?>(AuditedAction.KeyFileOption), cancellationToken);
                var promotion = new ShardPromotion(platform.Directory, platform.Databases, reporter);
                var keys = name is not null ? [key] : await ShardsOwnedByAsync(platform.Directory, lost!, result.GetValue(to)!, reporter, cancellationToken);
                var outcome = PromotionOutcome.Done;
                foreach (var each in keys)
                {
                    var one = await PromoteOneAsync(promotion, new PromotionRequest(each, result.GetValue(to)!, result.GetValue(force), identity.Name), error, cancellationToken);
                    outcome = (PromotionOutcome)Math.Max((int)outcome, (int)one);
                }

                return (int)outcome;
            });
        });
        return command;
    }

    private static Command Rejoin(Option<string> stateDir, TextWriter output, TextWriter error)
    {
        var shard = new Argument<string>("shard") { Description = "The shard: tenant@homeregion (e.g. acme@a)" };
        var region = new Option<string?>("--region") { Description = "The region that is back, to become the standby (default: the shard's home region)" };
        var secretFile = new Option<string?>("--inter-region-secret-file") { Description = "The regions' inter-region secret (default: the local stack's)" };
        var apiKeyFile = new Option<string?>("--api-key-file") { Description = "The tenant's API key, to re-apply its top-ups and adjustments (default: the local stack's)" };
        var reports = new Option<string?>("--report-dir") { Description = "Where the reconciliation report is written (default: <state-dir>/reports)" };
        var seedWait = new Option<int>("--seed-wait") { Description = "Seconds to wait for the region's new replica to be seeded", DefaultValueFactory = _ => 600 };
        var command = new Command("rejoin",
            "Bring a region that was promoted away from back as the shard's standby: reconcile what it committed but had not shipped into the owner (report in Markdown and JSON), then seed it as the owner's replica (exit 0 done, 1 failed, 2 refused)")
        {
            shard, region, secretFile, apiKeyFile, reports, seedWait,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            if (!ShardKey.TryParse(result.GetValue(shard)!, out var key))
            {
                await error.WriteLineAsync("geoctl: the shard is tenant@homeregion (e.g. acme@a)");
                return 2;
            }

            var back = result.GetValue(region) ?? key.HomeRegion;
            var audited = new AuditedAction("dr.rejoin", key.TenantId, new { shard = key.ToString(), region = back });
            return await RunAsync(result, stateDir, output, error, audited, async (platform, reporter) =>
            {
                var identity = await platform.IdentifyOperatorAsync(result.GetValue<string?>(AuditedAction.KeyFileOption), cancellationToken);
                var request = await RejoinRequestAsync(platform, key, back, identity.Name, result.GetValue(secretFile), result.GetValue(apiKeyFile), result.GetValue(reports),
                    TimeSpan.FromSeconds(Math.Max(0, result.GetValue(seedWait))), cancellationToken);
                return await OutcomeAsync(key, error, () => new ShardRejoin(platform.Directory, platform.Databases, reporter).RunAsync(request, cancellationToken));
            });
        });
        return command;
    }

    private static Command Switchover(Option<string> stateDir, TextWriter output, TextWriter error)
    {
        var shard = new Argument<string>("shard") { Description = "The shard: tenant@homeregion (e.g. acme@a)" };
        var to = new Option<string>("--to") { Description = "The region to make the owner: the shard's standby", Required = true };
        var catchUp = new Option<double>("--catch-up-timeout") { Description = "Seconds the standby may take to apply the owner's last commits before the switchover is aborted", DefaultValueFactory = _ => 5 };
        var command = new Command("switchover",
            "Planned change of owner with nothing lost: the owner stops writing, the standby applies through its last commit and becomes the owner, the old owner streams from it (exit 0 done, 1 failed or aborted, 2 refused)")
        {
            shard, to, catchUp,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            if (!ShardKey.TryParse(result.GetValue(shard)!, out var key))
            {
                await error.WriteLineAsync("geoctl: the shard is tenant@homeregion (e.g. acme@a)");
                return 2;
            }

            var audited = new AuditedAction("dr.switchover", key.TenantId, new { shard = key.ToString(), to = result.GetValue(to) });
            return await RunAsync(result, stateDir, output, error, audited, async (platform, reporter) =>
            {
                var identity = await platform.IdentifyOperatorAsync(result.GetValue<string?>(AuditedAction.KeyFileOption), cancellationToken);
                var request = new SwitchoverRequest(key, result.GetValue(to)!, identity.Name, TimeSpan.FromSeconds(Math.Max(0.1, result.GetValue(catchUp))));
                return await OutcomeAsync(key, error, () => new ShardSwitchover(platform.Directory, platform.Databases, reporter).RunAsync(request, cancellationToken));
            });
        });
        return command;
    }

    private static Command Failback(Option<string> stateDir, TextWriter output, TextWriter error)
    {
        var shard = new Argument<string>("shard") { Description = "The shard: tenant@homeregion (e.g. acme@a)" };
        var command = new Command("failback",
            "Return a shard to its home region: rejoin the home region as the standby if it is not, then switch over to it (exit 0 done, 1 failed, 2 refused)")
        {
            shard,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            if (!ShardKey.TryParse(result.GetValue(shard)!, out var key))
            {
                await error.WriteLineAsync("geoctl: the shard is tenant@homeregion (e.g. acme@a)");
                return 2;
            }

            var audited = new AuditedAction("dr.failback", key.TenantId, new { shard = key.ToString() });
            return await RunAsync(result, stateDir, output, error, audited, async (platform, reporter) =>
            {
                var identity = await platform.IdentifyOperatorAsync(result.GetValue<string?>(AuditedAction.KeyFileOption), cancellationToken);
                var current = (await platform.Directory.LoadAsync(cancellationToken)).Shards.FirstOrDefault(s => s.Key == key)
                    ?? throw new ProvisioningException($"no shard {key} in the directory");
                if (current.OwnerRegion == key.HomeRegion)
                {
                    reporter.Line($"{key} is at home in region {key.HomeRegion} already (epoch {current.Epoch}): nothing to do");
                    return 0;
                }

                if (current.StandbyRegion != key.HomeRegion)
                {
                    reporter.Line($"region {key.HomeRegion} is not the standby of {key}: rejoining it first");
                    var rejoined = await OutcomeAsync(key, error, async () => await new ShardRejoin(platform.Directory, platform.Databases, reporter)
                        .RunAsync(await RejoinRequestAsync(platform, key, key.HomeRegion, identity.Name, null, null, null, TimeSpan.FromMinutes(10), cancellationToken), cancellationToken));
                    if (rejoined != 0)
                    {
                        return rejoined;
                    }
                }

                var request = new SwitchoverRequest(key, key.HomeRegion, identity.Name, TimeSpan.FromSeconds(5));
                return await OutcomeAsync(key, error, () => new ShardSwitchover(platform.Directory, platform.Databases, reporter).RunAsync(request, cancellationToken));
            });
        });
        return command;
    }

    /// <summary>Runs a DR procedure: its outcome as the exit code, a failure's message on the error stream.</summary>
    private static async Task<int> OutcomeAsync(ShardKey key, TextWriter error, Func<Task<PromotionOutcome>> run)
    {
        try
        {
            return (int)await run();
        }
        catch (PromotionFailedException ex)
        {
            await error.WriteLineAsync($"geoctl: {key}: {ex.Message}");
            return (int)PromotionOutcome.Failed;
        }
    }

    /// <summary>A rejoin's request: the inter-region secret and the tenant's API key from the options, else the local stack's.</summary>
    private static async Task<RejoinRequest> RejoinRequestAsync(Platform platform, ShardKey key, string region, string? @operator, string? secretFile, string? apiKeyFile,
        string? reports, TimeSpan seedWait, CancellationToken cancellationToken)
    {
        var secretPath = secretFile ?? platform.Layout.InterRegionSecretFile;
        if (!File.Exists(secretPath))
        {
            throw new ProvisioningException($"no inter-region secret at {secretPath} (--inter-region-secret-file)");
        }

        var keyPath = apiKeyFile ?? platform.Layout.ApiKeyFile(key.TenantId);
        return new RejoinRequest(key, region, @operator, reports ?? Path.Combine(platform.Layout.Root, "reports"),
            (await File.ReadAllBytesAsync(secretPath, cancellationToken)).AsSpan().Trim((byte)'\n').ToArray(),
            File.Exists(keyPath) ? (await File.ReadAllTextAsync(keyPath, cancellationToken)).Trim() : null, seedWait);
    }

    private static async Task<PromotionOutcome> PromoteOneAsync(ShardPromotion promotion, PromotionRequest request, TextWriter error, CancellationToken cancellationToken)
    {
        try
        {
            return await promotion.RunAsync(request, cancellationToken);
        }
        catch (PromotionRefusedException ex)
        {
            await error.WriteLineAsync($"geoctl: {request.Shard}: refused: {ex.Message}");
            return PromotionOutcome.Refused;
        }
        catch (PromotionFailedException ex)
        {
            await error.WriteLineAsync($"geoctl: {request.Shard}: {ex.Message}");
            return PromotionOutcome.Failed;
        }
    }

    private static async Task<IReadOnlyList<ShardKey>> ShardsOwnedByAsync(Geo.Directory.Stores.Postgres.PostgresDirectoryStore directory, string region, string to, Reporter reporter, CancellationToken cancellationToken)
    {
        var shards = (await directory.LoadAsync(cancellationToken)).Shards
            .Where(s => s.OwnerRegion == region && s.State is ShardState.Active or ShardState.Promoting)
            .OrderBy(s => s.Key.ToString(), StringComparer.Ordinal)
            .ToList();
        var elsewhere = shards.Where(s => s.StandbyRegion != to).ToList();
        if (elsewhere.Count > 0)
        {
            throw new PromotionRefusedException(
                $"not every shard of region {region} stands by in {to}: {string.Join(", ", elsewhere.Select(s => $"{s.Key} (standby {s.StandbyRegion ?? "none"})"))}; promote them one by one");
        }

        reporter.Line($"region {region} owns {shards.Count} shard(s): {string.Join(", ", shards.Select(s => s.Key.ToString()))}");
        return [.. shards.Select(s => s.Key)];
    }

    private static Command Status(Option<string> stateDir, TextWriter output, TextWriter error)
    {
        var command = new Command("status",
            "Per shard: owner, standby, epoch, state, owner lease, the standby's replica, accounting held in a survivability journal, the last DR event (exit 1 when a shard has no healthy standby)");
        command.SetAction((result, cancellationToken) => RunAsync(result, stateDir, output, error, null, async (platform, reporter) =>
        {
            var rows = await ReadStatusAsync(platform, cancellationToken);
            string[] header = ["SHARD", "OWNER", "STANDBY", "EPOCH", "STATE", "LEASE", "STANDBY REPLICA", "JOURNAL", "LAST DR EVENT"];
            foreach (var line in Columns.Align([header, .. rows.Select(r => new[] { r.Shard.Key.ToString(), r.Shard.OwnerRegion, r.Shard.StandbyRegion ?? "-",
                r.Shard.Epoch.ToString(CultureInfo.InvariantCulture), ShardStates.ToText(r.Shard.State), r.Lease, r.Replica, r.Journal, r.LastEvent })]))
            {
                reporter.Line(line);
            }

            var unhealthy = rows.Where(r => !r.StandbyHealthy).Select(r => r.Shard.Key.ToString()).ToList();
            if (unhealthy.Count > 0)
            {
                reporter.Line($"no healthy standby: {string.Join(", ", unhealthy)}");
                return 1;
            }

            return 0;
        }));
        return command;
    }

    /// <summary>One line of <c>geoctl dr status</c>.</summary>
    internal sealed record ShardDrStatus(Shard Shard, string Lease, string Replica, string Journal, string LastEvent, bool StandbyHealthy);

    /// <summary>Reads every shard's DR status: the directory, the owner leases, each standby's replica position, the DR log.</summary>
    internal static async Task<IReadOnlyList<ShardDrStatus>> ReadStatusAsync(Platform platform, CancellationToken cancellationToken)
    {
        var data = await platform.Directory.LoadAsync(cancellationToken);
        var leases = await platform.Directory.LoadOwnerLeasesAsync(cancellationToken);
        var events = await platform.Directory.ListDrEventsAsync(null, 500, cancellationToken);
        var rows = new List<ShardDrStatus>();
        foreach (var shard in data.Shards.OrderBy(s => s.Key.ToString(), StringComparer.Ordinal))
        {
            var lease = leases.Leases.FirstOrDefault(l => l.Key == shard.Key);
            var leaseText = lease is null ? "none"
                : lease.ExpiresAt > leases.DirectoryNow ? $"{lease.Holder}@{lease.Epoch}, {(lease.ExpiresAt - leases.DirectoryNow).TotalSeconds:F1} s left"
                : $"{lease.Holder}@{lease.Epoch}, expired {(leases.DirectoryNow - lease.ExpiresAt).TotalSeconds:F0} s ago";
            var (replica, healthy) = shard.StandbyRegion is { } standby && platform.Databases.HasRegion(standby)
                ? await DescribeReplicaAsync(platform.Databases.Database(standby, shard.DatabaseName), cancellationToken)
                : ("no standby", false);
            var last = events.LastOrDefault(e => e.Shard == shard.Key);
            var journal = await DescribeJournalsAsync(platform, data.Regions.Select(r => r.Id), shard.Key, cancellationToken);
            rows.Add(new ShardDrStatus(shard, leaseText, replica, journal,
                last is null ? "-" : $"{last.At.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z {last.Operation} {last.Step}: {last.Outcome}", healthy));
        }

        return rows;
    }

    private static async Task<(string Text, bool Healthy)> DescribeReplicaAsync(string replica, CancellationToken cancellationToken)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(3));
            var position = await ReplicaPromotion.ReadPositionAsync(replica, timeout.Token);
            if (position is null)
            {
                return ("not seeded", false);
            }

            var now = DateTimeOffset.UtcNow;
            var heard = position.HeardAt ?? position.AppliedCommitTime;
            var text = $"applied {Ago(now, position.AppliedCommitTime)}, source heard {Ago(now, position.HeardAt)}";
            return (text, heard is { } at && now - at < HealthyHeardWithin);
        }
        catch (Exception ex) when (ex is NpgsqlException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return ("unreachable", false);
        }
    }

    /// <summary>
    /// Accounting of the shard that a region acknowledged for an unreachable owner and still holds in its survivability
    /// journal (the region node's <c>geo_journal</c> database), waiting to be handed to the owner: "-" when none.
    /// </summary>
    private static async Task<string> DescribeJournalsAsync(Platform platform, IEnumerable<string> regions, ShardKey key, CancellationToken cancellationToken)
    {
        var held = new List<string>();
        foreach (var region in regions.Where(platform.Databases.HasRegion))
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(TimeSpan.FromSeconds(3));
                await using var connection = new NpgsqlConnection(platform.Databases.Database(region, JournalDatabase));
                await connection.OpenAsync(timeout.Token);
                await using var command = new NpgsqlCommand(
                    "SELECT count(*), min(received_at) FROM survival_journal WHERE tenant_id = $1 AND home_region = $2", connection);
                command.Parameters.Add(new() { Value = key.TenantId });
                command.Parameters.Add(new() { Value = key.HomeRegion });
                await using var reader = await command.ExecuteReaderAsync(timeout.Token);
                await reader.ReadAsync(timeout.Token);
                if (reader.GetInt64(0) > 0)
                {
                    held.Add($"{reader.GetInt64(0)} in {region}, oldest {Ago(DateTimeOffset.UtcNow, reader.GetFieldValue<DateTimeOffset>(1))}");
                }
            }
            catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.InvalidCatalogName or PostgresErrorCodes.UndefinedTable)
            {
                // No journal in that region yet: nothing held there.
            }
            catch (Exception ex) when (ex is NpgsqlException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                held.Add($"{region} unreachable");
            }
        }

        return held.Count == 0 ? "-" : string.Join("; ", held);
    }

    /// <summary>The region node's survivability journal database (<c>RegionNode:JournalDatabase</c>'s default).</summary>
    private const string JournalDatabase = "geo_journal";

    private static string Ago(DateTimeOffset now, DateTimeOffset? at) => at is { } time ? $"{Math.Max(0, (now - time).TotalSeconds):F1} s ago" : "never";

    private static Command Log(Option<string> stateDir, TextWriter output, TextWriter error)
    {
        var shard = new Argument<string?>("shard") { Description = "Only this shard's events (tenant@home)", Arity = ArgumentArity.ZeroOrOne };
        var limit = new Option<int>("--limit") { Description = "At most this many events (the newest)", DefaultValueFactory = _ => 100 };
        var command = new Command("log", "Show the DR event log: each step of each promotion with its timing and outcome, oldest first") { shard, limit };
        command.SetAction((result, cancellationToken) => RunAsync(result, stateDir, output, error, null, async (platform, reporter) =>
        {
            ShardKey? key = null;
            if (result.GetValue(shard) is { } name)
            {
                if (!ShardKey.TryParse(name, out var parsed))
                {
                    throw new ProvisioningException("the shard is tenant@homeregion (e.g. acme@a)");
                }

                key = parsed;
            }

            if (result.GetValue(limit) < 1)
            {
                throw new ProvisioningException("--limit must be at least 1");
            }

            var events = await platform.Directory.ListDrEventsAsync(key, result.GetValue(limit), cancellationToken);
            string[] header = ["AT", "SHARD", "OPERATION", "STEP", "OUTCOME", "MS", "OPERATOR", "DETAIL"];
            foreach (var line in Columns.Align([header, .. events.Select(e => new[] { e.At.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture),
                e.Shard.ToString(), e.Operation, e.Step, e.Outcome, e.ElapsedMs is { } ms ? ms.ToString("F0", CultureInfo.InvariantCulture) : "-", e.Operator ?? "-", e.Detail })]))
            {
                reporter.Line(line);
            }

            return 0;
        }));
        return command;
    }

    /// <summary>Opens the platform for recovery (a lost region's PostgreSQL may be down) and maps errors to exit codes.</summary>
    private static async Task<int> RunAsync(ParseResult result, Option<string> stateDir, TextWriter output, TextWriter error, AuditedAction? audited, Func<Platform, Reporter, Task<int>> action)
    {
        try
        {
            await using var platform = await Platform.OpenAsync(new StackLayout(result.GetValue(stateDir)!), CancellationToken.None, requireRegions: false);
            var reporter = new Reporter(output);
            return audited is null
                ? await action(platform, reporter)
                : await audited.RunAsync(platform, result.GetValue<string?>(AuditedAction.KeyFileOption), () => action(platform, reporter), error);
        }
        catch (PromotionRefusedException ex)
        {
            await error.WriteLineAsync($"geoctl: refused: {ex.Message}");
            return 2;
        }
        catch (Exception ex) when (ex is ProvisioningException or StackException or EngineException or NpgsqlException or DirectoryStoreException or IOException)
        {
            await error.WriteLineAsync($"geoctl: {ex.Message}");
            return ex is ProvisioningException ? 2 : 1;
        }
        catch (OperationCanceledException)
        {
            await error.WriteLineAsync("geoctl: cancelled; run the command again to resume it");
            return 130;
        }
    }
}
