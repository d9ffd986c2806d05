using System.Diagnostics;
using System.Globalization;
using System.Net;
using Geo.Directory;
using Geo.Directory.Recovery;
using Geo.Directory.Shards;
using Geo.Replication.Changes;
using Geo.Replication.PgOutput;
using Geo.Replication.Promotion;
using Geo.Replication.Rejoin;
using Geo.Schema;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Geo.Provisioning.Recovery.Rejoin;

/// <summary>What to rejoin and how.</summary>
/// <param name="Shard">The shard.</param>
/// <param name="Region">The region that is back: the shard's old owner, to become its standby.</param>
/// <param name="Operator">Who runs it, for the DR log.</param>
/// <param name="ReportDirectory">Where the reconciliation report (Markdown and JSON) is written.</param>
/// <param name="InterRegionSecret">The secret regions sign forwarded requests with (the re-sent accounting is signed with it).</param>
/// <param name="TenantApiKey">The tenant's API key, for re-applying top-ups and adjustments; null when not known.</param>
/// <param name="SeedWait">How long to wait for the new replica's first copy before leaving it to run on.</param>
public sealed record RejoinRequest(ShardKey Shard, string Region, string? Operator, string ReportDirectory, byte[] InterRegionSecret, string? TenantApiKey, TimeSpan SeedWait);

/// <summary>
/// <c>geoctl dr rejoin</c>: a region that was lost and promoted away from comes back as the shard's standby, and nothing it
/// acknowledged is lost. Its old database is frozen; its divergent tail (what it committed after the position the new owner had
/// applied) is decoded from its slot to the new owner and reconciled into the owner (<see cref="TailReconciler"/>), with a
/// report; then the old database is kept under another name for audit, its slot dropped, and the directory names the region
/// the standby: its replicator copies the owner's database afresh and streams from it. Every step can be run again: the
/// reconciliation is idempotent, and the rename marks it done.
/// </summary>
public sealed class ShardRejoin(IDirectoryStore directory, PlatformDatabases databases, IProvisioningProgress reporter, ILogger? logger = null)
{
    private readonly DrRun _run = new(directory, reporter, DrOperations.Rejoin, "geoctl");
    private readonly ILogger _logger = logger ?? NullLogger.Instance;

    /// <summary>The name the old database is kept under once its tail is reconciled: <c>&lt;db&gt;_rejoined_e&lt;epoch&gt;</c>.</summary>
    public static string ArchiveName(string database, long epoch)
    {
        var suffix = string.Create(CultureInfo.InvariantCulture, $"_rejoined_e{epoch}");
        return (database.Length + suffix.Length > 63 ? database[..(63 - suffix.Length)] : database) + suffix;
    }

    public async Task<PromotionOutcome> RunAsync(RejoinRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        _run.Clock.Restart();
        var key = request.Shard;
        var shard = await _run.FindAsync(key, cancellationToken);
        if (shard is null)
        {
            return await _run.RefuseAsync(key, "check", $"no shard {key} in the directory");
        }

        if (shard.OwnerRegion == request.Region)
        {
            return await _run.RefuseAsync(key, "check", $"region {request.Region} owns {key}: there is nothing to rejoin (a region rejoins a shard that was promoted away from it)");
        }

        if (shard.State != ShardState.Active)
        {
            return await _run.RefuseAsync(key, "check", $"{key} is {ShardStates.ToText(shard.State)}; a region rejoins an active shard (finish its promotion first)");
        }

        if (shard.StandbyRegion is { } standby && standby != request.Region)
        {
            return await _run.RefuseAsync(key, "check", $"{key} stands by in region {standby} already; a shard has one standby");
        }

        if (!databases.HasRegion(request.Region))
        {
            return await _run.RefuseAsync(key, "check", $"no PostgreSQL server is configured for region {request.Region}");
        }

        if (shard.StandbyRegion == request.Region)
        {
            return await FinishedAlreadyAsync(request, shard, cancellationToken);
        }

        return await _run.WithDriverLeaseAsync(key, token => RejoinAsync(request, shard, token), cancellationToken);
    }

    private async Task<PromotionOutcome> RejoinAsync(RejoinRequest request, Shard shard, CancellationToken cancellationToken)
    {
        var key = request.Shard;
        var region = request.Region;
        var owner = shard.OwnerRegion;
        var name = shard.DatabaseName;
        var archive = ArchiveName(name, shard.Epoch);
        reporter.Line($"rejoining region {region} to {key} as the standby of region {owner} (epoch {shard.Epoch})");
        await _run.RecordAsync(key, "start", DrOutcomes.Started, $"region {region} rejoins as the standby of {owner} at epoch {shard.Epoch}", request.Operator, null);

        // 1. Where region R's copy stands: its old database (a tail to reconcile), kept already (reconciled), or none.
        var copy = await _run.StepAsync(key, $"1 find region {region}'s old database", () => FindCopyAsync(region, name, archive, shard.Epoch, cancellationToken), c => c.Describe);
        if (copy.Kind == CopyKind.OldOwner)
        {
            var old = databases.Database(region, name);

            // 2. Nothing writes into it from now on: read-only for new sessions, the open ones ended.
            await _run.StepAsync(key, $"2 freeze region {region}'s old database", () => FreezeAsync(region, name, cancellationToken), n => $"read-only; {n} session(s) ended");

            // 3. Its divergent tail, decoded from its slot to the owner from the position the owner had applied.
            var slot = ReplicationSlots.DefaultSlotName(name, owner);
            var ownerDatabase = databases.Database(owner, name);
            var split = await _run.StepAsync(key, $"3a read where the owner's copy of {region} ends", () => ReadSplitAsync(ownerDatabase, slot),
                s => $"applied up to {s.Position} (commit {s.CommitAt:O})");
            var tail = await _run.StepAsync(key, $"3b decode region {region}'s divergent tail from slot {slot}",
                async () => TailContents.Classify(await DivergentTail.ReadAsync(PlatformDatabases.WritableReplica(old), slot, split.Position, _logger, cancellationToken: cancellationToken)),
                t => $"{t.Transactions} transaction(s), {t.Events} change(s): {t.Accounting.Count} accounting request(s), {t.Ledger.Count} top-up(s)/adjustment(s), {t.Rows.Count} row(s)");

            // 4. Reconciled into the owner, each kind by its idempotent rule; the report says what and how many.
            var report = new RejoinReport
            {
                Shard = key.ToString(),
                Region = region,
                Owner = owner,
                Epoch = shard.Epoch,
                AppliedPosition = split.Position,
                SplitAt = split.CommitAt,
            };
            var file = await _run.StepAsync(key, $"4 reconcile the tail into region {owner}", async () =>
            {
                var endpoints = await OwnerEndpointsAsync(owner, request, cancellationToken);
                await new TailReconciler(old, ownerDatabase, key.TenantId, key.HomeRegion, shard.Epoch, endpoints).ReconcileAsync(tail, report, cancellationToken);
                var written = await report.WriteAsync(request.ReportDirectory, cancellationToken);
                if (!report.Complete)
                {
                    throw new PromotionFailedException($"{report.Summary()}; report: {written}");
                }

                return written;
            }, f => report.Summary());
            reporter.Line($"  report: {file} (and .json)");
            await _run.RecordAsync(key, "4 reconcile the tail", DrOutcomes.Info, report.Summary(), request.Operator, report.ToJson());

            // 5. Kept for audit under another name (this marks the tail reconciled); its slot, which holds WAL, dropped.
            await _run.StepAsync(key, $"5 keep region {region}'s old database as {archive}", () => ArchiveAsync(region, name, archive, slot, cancellationToken), s => s);
        }
        else if (copy.Kind == CopyKind.Archived)
        {
            await _run.StepAsync(key, $"5 drop region {region}'s old slot", () => DropSlotAsync(region, archive, ReplicationSlots.DefaultSlotName(name, owner), cancellationToken), s => s);
        }

        // 6. A fresh replica database (read-only, migrated: the replicator's role may not make one), and the directory names
        // the region the standby (the epoch stays: the owner keeps serving); its replicator seeds a copy.
        await _run.StepAsync(key, $"6 make region {region} the standby", async () =>
        {
            await ShardStorage.PrepareReplicaAsync(databases, region, name, cancellationToken);
            var result = await directory.TryUpdateShardAsync(key, shard.Epoch, new ShardUpdate { ChangeStandby = true, StandbyRegion = region }, cancellationToken);
            return result.Succeeded ? result.Current! : throw new PromotionFailedException($"the directory refused ({result.Outcome}; now epoch {result.Current?.Epoch}): look at 'geoctl dr status' and run again");
        }, s => $"owner {s.OwnerRegion}, standby {s.StandbyRegion}, epoch {s.Epoch}");

        // 7. The new replica's first copy: waited for (bounded), with progress.
        var seeded = await _run.StepAsync(key, $"7 wait for region {region}'s replica to be seeded", () => WaitForReplicaAsync(region, name, request.SeedWait, cancellationToken), s => s);
        var total = _run.Clock.Elapsed.TotalSeconds;
        reporter.Line($"rejoined region {region} to {key} as the standby of {owner} in {total:F1} s; {seeded}");
        await _run.RecordAsync(key, "done", DrOutcomes.Done, $"standby {region} at epoch {shard.Epoch} in {total:F1} s", request.Operator, null);
        return PromotionOutcome.Done;
    }

    /// <summary>The standby is the region already: a rejoin done before, or one killed after step 6, whose wait is finished here.</summary>
    private async Task<PromotionOutcome> FinishedAlreadyAsync(RejoinRequest request, Shard shard, CancellationToken cancellationToken)
    {
        await ShardStorage.PrepareReplicaAsync(databases, request.Region, shard.DatabaseName, cancellationToken);
        var seeded = await WaitForReplicaAsync(request.Region, shard.DatabaseName, request.SeedWait, cancellationToken);
        reporter.Line($"region {request.Region} is the standby of {request.Shard} already (owner {shard.OwnerRegion}, epoch {shard.Epoch}): {seeded}");
        return PromotionOutcome.Done;
    }

    private enum CopyKind
    {
        OldOwner,
        Archived,
        None,
    }

    private sealed record Copy(CopyKind Kind, string Describe);

    private async Task<Copy> FindCopyAsync(string region, string name, string archive, long epoch, CancellationToken cancellationToken)
    {
        await using var maintenance = await PlatformDatabases.OpenUnpooledAsync(databases.Maintenance(region), cancellationToken);
        var present = new HashSet<string>(StringComparer.Ordinal);
        await using (var list = new NpgsqlCommand("SELECT datname FROM pg_database WHERE datname = ANY($1)", maintenance))
        {
            list.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [name, archive] });
            await using var reader = await list.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                present.Add(reader.GetString(0));
            }
        }

        // Kept under the archive's name: an earlier run reconciled its tail (a database under the shard's name now is the new,
        // empty replica that run's step 6 made).
        if (present.Contains(archive))
        {
            return new Copy(CopyKind.Archived, $"its tail was reconciled by an earlier run; kept as {archive}");
        }

        const string NoCopy = "nothing to reconcile (what it had not shipped is lost; the promotion's estimate says how much)";
        if (!present.Contains(name))
        {
            return new Copy(CopyKind.None, $"region {region} holds no copy of {name}: {NoCopy}");
        }

        await using var old = await PlatformDatabases.OpenUnpooledAsync(databases.Database(region, name), cancellationToken);
        if (await IsNewReplicaAsync(old, name, cancellationToken))
        {
            return new Copy(CopyKind.None, $"{name} in region {region} is the empty replica an earlier run made: {NoCopy}");
        }

        await using var fence = new NpgsqlCommand("SELECT owner_region, epoch FROM shard_fence", old);
        await using var fenced = await fence.ExecuteReaderAsync(cancellationToken);
        if (!await fenced.ReadAsync(cancellationToken))
        {
            throw new PromotionRefusedException($"{name} in region {region} has no fence: it is not a shard owner's database");
        }

        var (fencedOwner, fencedEpoch) = (fenced.GetString(0), fenced.GetInt64(1));
        if (fencedOwner != region || fencedEpoch >= epoch)
        {
            throw new PromotionRefusedException(
                $"{name} in region {region} is fenced for region {fencedOwner} at epoch {fencedEpoch}: not the old owner's database of a shard now at epoch {epoch}; look at it before rejoining");
        }

        return new Copy(CopyKind.OldOwner, $"the old owner's database (fenced for {fencedOwner} at epoch {fencedEpoch} < {epoch})");
    }

    /// <summary>A read-only database with no fence, nothing ever applied and no subscriber: a replica made by step 6, not an owner's.</summary>
    private static async Task<bool> IsNewReplicaAsync(NpgsqlConnection database, string name, CancellationToken cancellationToken)
    {
        if (!await ReplicaDatabase.IsGuardedAsync(database, name, cancellationToken: cancellationToken))
        {
            return false;
        }

        // Not migrated through 0004 yet (a run killed while migrating it): no owner's database is.
        await using (var partial = new NpgsqlCommand("SELECT to_regclass('replication_progress') IS NULL", database))
        {
            if ((bool)(await partial.ExecuteScalarAsync(cancellationToken))!)
            {
                return true;
            }
        }

        await using var empty = new NpgsqlCommand(
            "SELECT NOT EXISTS (SELECT 1 FROM shard_fence) AND NOT EXISTS (SELECT 1 FROM subscribers) AND NOT EXISTS (SELECT 1 FROM replication_progress)", database);
        return (bool)(await empty.ExecuteScalarAsync(cancellationToken))!;
    }

    private async Task<int> FreezeAsync(string region, string name, CancellationToken cancellationToken)
    {
        await using var maintenance = await PlatformDatabases.OpenUnpooledAsync(databases.Maintenance(region), cancellationToken);
        await using (var alter = new NpgsqlCommand($"ALTER DATABASE {ShardDatabase.Quote(name)} SET default_transaction_read_only = on", maintenance))
        {
            await alter.ExecuteNonQueryAsync(cancellationToken);
        }

        return await DrRun.EndSessionsAsync(maintenance, name, cancellationToken);
    }

    /// <summary>The position the owner (the promoted standby) had applied from the old owner's stream, and that commit's time.</summary>
    private static async Task<(string Position, DateTimeOffset? CommitAt)> ReadSplitAsync(string ownerDatabase, string slot)
    {
        await using var connection = await PlatformDatabases.OpenUnpooledAsync(ownerDatabase, CancellationToken.None);
        await using var read = new NpgsqlCommand("SELECT position, source_commit_at FROM replication_progress WHERE source = $1", connection);
        read.Parameters.Add(new NpgsqlParameter<string> { TypedValue = $"pgoutput:{slot}" });
        await using var reader = await read.ExecuteReaderAsync();
        if (!await reader.ReadAsync() || !Lsn.TryParse(reader.GetString(0), out _))
        {
            throw new PromotionRefusedException(
                $"the owner's database {connection.Database} holds no position of stream pgoutput:{slot}: where the old owner's tail begins is not known");
        }

        return (reader.GetString(0), reader.IsDBNull(1) ? null : new DateTimeOffset(reader.GetDateTime(1), TimeSpan.Zero));
    }

    private async Task<OwnerEndpoints> OwnerEndpointsAsync(string owner, RejoinRequest request, CancellationToken cancellationToken)
    {
        var region = (await directory.LoadAsync(cancellationToken)).Regions.FirstOrDefault(r => r.Id == owner)
            ?? throw new PromotionFailedException($"region {owner} is not in the directory");
        var address = IPAddress.TryParse(region.RadiusHost, out var parsed) ? parsed : (await Dns.GetHostAddressesAsync(region.RadiusHost, cancellationToken))[0];
        return new OwnerEndpoints(new IPEndPoint(address, region.RadiusAcctPort), request.InterRegionSecret, region.ApiUrl, request.TenantApiKey);
    }

    private async Task<string> ArchiveAsync(string region, string name, string archive, string slot, CancellationToken cancellationToken)
    {
        await using var maintenance = await PlatformDatabases.OpenUnpooledAsync(databases.Maintenance(region), cancellationToken);
        for (var attempt = 1; ; attempt++)
        {
            await DrRun.EndSessionsAsync(maintenance, name, cancellationToken);
            try
            {
                await using var rename = new NpgsqlCommand($"ALTER DATABASE {ShardDatabase.Quote(name)} RENAME TO {ShardDatabase.Quote(archive)}", maintenance);
                await rename.ExecuteNonQueryAsync(cancellationToken);
                break;
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.ObjectInUse && attempt < 20)
            {
                // A session came back between the terminate and the rename.
                await Task.Delay(100, cancellationToken);
            }
        }

        return $"renamed; {await DropSlotAsync(region, archive, slot, cancellationToken)}";
    }

    /// <summary>Drops the old owner's slot to the owner: connected to the database it decodes, as a logical slot requires.</summary>
    private async Task<string> DropSlotAsync(string region, string archive, string slot, CancellationToken cancellationToken)
    {
        var database = databases.Database(region, archive);
        if (!await ReplicationSlots.SlotExistsAsync(database, slot, cancellationToken))
        {
            return $"slot {slot} gone already";
        }

        await ReplicationSlots.DropAsync(database, slot, publication: null, cancellationToken);
        return $"slot {slot} dropped";
    }

    private async Task<string> WaitForReplicaAsync(string region, string name, TimeSpan wait, CancellationToken cancellationToken)
    {
        var replica = databases.Database(region, name);
        var waited = Stopwatch.StartNew();
        var lastReport = TimeSpan.Zero;
        while (true)
        {
            ReplicaPosition? position = null;
            try
            {
                position = await ReplicaPromotion.ReadPositionAsync(replica, cancellationToken);
            }
            catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.InvalidCatalogName or PostgresErrorCodes.UndefinedTable or PostgresErrorCodes.UndefinedColumn)
            {
                // Not created, or being migrated, by its replicator yet.
            }

            if (position is { PromotedAt: null })
            {
                return $"replica seeded after {waited.Elapsed.TotalSeconds:F1} s, applied up to {position.AppliedPosition}";
            }

            if (waited.Elapsed >= wait)
            {
                return $"the replica's first copy is still running after {wait.TotalSeconds:F0} s; 'geoctl dr status' shows when it is done";
            }

            if (waited.Elapsed - lastReport >= TimeSpan.FromSeconds(10))
            {
                lastReport = waited.Elapsed;
                reporter.Line($"  ... region {region}'s replicator is copying {name} ({waited.Elapsed.TotalSeconds:F0} s)");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250), cancellationToken);
        }
    }
}
