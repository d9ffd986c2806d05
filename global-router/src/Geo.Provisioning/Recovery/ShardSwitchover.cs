using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Geo.Directory;
using Geo.Directory.Recovery;
using Geo.Directory.Shards;
using Geo.Replication.Changes;
using Geo.Replication.PgOutput;
using Geo.Replication.Promotion;
using Geo.Replication.Verification;
using Geo.Schema;
using Npgsql;

namespace Geo.Provisioning.Recovery;

/// <summary>What to switch over and how.</summary>
/// <param name="Shard">The shard.</param>
/// <param name="To">The region to make the owner: the shard's standby.</param>
/// <param name="Operator">Who runs it, for the DR log.</param>
/// <param name="CatchUpTimeout">How long the standby may take to apply the owner's last commits before the switchover is aborted.</param>
public sealed record SwitchoverRequest(ShardKey Shard, string To, string? Operator, TimeSpan CatchUpTimeout);

/// <summary>
/// <c>geoctl dr switchover</c>: a planned change of owner with nothing lost (RPO 0). The directory marks the shard switching
/// (the owner's nodes stop serving it and every region holds its requests, up to their pause budget); the owner's fence is raised
/// to the new epoch, which waits for its group commits in flight and refuses every later write: the WAL position after it is the
/// switch point. Once the standby has applied through it (a marker committed after the fence arrives), its applier is stopped,
/// it is promoted at the new epoch, and the old owner's database becomes its replica without a copy: a slot is created on the
/// new owner before it takes any write, and the old database is marked to stream from that slot's start. Then the directory
/// names the new owner (held requests go there), and the verifier's checksums compare the two. A standby that does not catch up
/// in time aborts it: the old owner serves again at the next epoch, and nothing was lost. Every step can be run again.
/// </summary>
public sealed class ShardSwitchover(IDirectoryStore directory, PlatformDatabases databases, IProvisioningProgress reporter)
{
    /// <summary>How long to wait for the new owner's nodes to take the shard's lease.</summary>
    public static readonly TimeSpan ServeWait = TimeSpan.FromSeconds(15);

    /// <summary>The least a resumed switchover waits for the standby to catch up: longer than a replicator's stream restart.</summary>
    public static readonly TimeSpan ResumeCatchUp = TimeSpan.FromSeconds(20);

    private readonly DrRun _run = new(directory, reporter, DrOperations.Switchover, "geoctl");

    public async Task<PromotionOutcome> RunAsync(SwitchoverRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        _run.Clock.Restart();
        var key = request.Shard;
        var shard = await _run.FindAsync(key, cancellationToken);
        if (shard is null)
        {
            return await _run.RefuseAsync(key, "check", $"no shard {key} in the directory");
        }

        if (shard.OwnerRegion == request.To && shard.State == ShardState.Active)
        {
            reporter.Line($"{key} is owned by region {request.To} already (epoch {shard.Epoch}): nothing to do");
            return PromotionOutcome.Done;
        }

        if (shard.StandbyRegion != request.To)
        {
            return await _run.RefuseAsync(key, "check", shard.StandbyRegion is null
                ? $"{key} has no standby region; a switchover moves a shard to its standby (rejoin the old owner first)"
                : $"region {request.To} is not the standby of {key} (its standby is {shard.StandbyRegion})");
        }

        if (shard.State is not (ShardState.Active or ShardState.Switching))
        {
            return await _run.RefuseAsync(key, "check", $"{key} is {ShardStates.ToText(shard.State)}; only an active shard (or one whose switchover was interrupted) can be switched over");
        }

        return await _run.WithDriverLeaseAsync(key, token => SwitchAsync(request, shard, token), cancellationToken);
    }

    private async Task<PromotionOutcome> SwitchAsync(SwitchoverRequest request, Shard shard, CancellationToken cancellationToken)
    {
        var key = request.Shard;
        var (owner, standby) = (shard.OwnerRegion, request.To);
        var ownerDatabase = databases.Database(owner, shard.DatabaseName);
        var standbyDatabase = databases.Database(standby, shard.DatabaseName);
        reporter.Line($"switching {key} over: owner {owner} -> {standby} (epoch {shard.Epoch}, {ShardStates.ToText(shard.State)})");
        await _run.RecordAsync(key, "start", DrOutcomes.Started, $"owner {owner} -> {standby} at epoch {shard.Epoch}", request.Operator, null);

        // 0. The standby must hold a seeded replica. Whether it keeps up is found out at step 3, which aborts if it does not.
        ReplicaPosition? position;
        try
        {
            position = await ReplicaPromotion.ReadPositionAsync(standbyDatabase, cancellationToken);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException && shard.State == ShardState.Switching)
        {
            // An interrupted switchover whose standby is gone: the old owner takes the shard back.
            reporter.Line($"  region {standby}'s replica cannot be read ({ex.Message}): aborting the interrupted switchover");
            return await AbortAsync(request, shard, ownerDatabase, shard.Epoch + 1, cancellationToken);
        }

        var promoted = position?.PromotedAt is not null;
        if (!promoted)
        {
            await _run.StepAsync(key, "0 check the standby's replica", () => position is null
                    ? throw new PromotionRefusedException($"the replica {shard.DatabaseName} in region {standby} was never seeded: a switchover needs a standby that holds the shard")
                    : Task.FromResult(position),
                p => $"applied up to {p.AppliedPosition}{(p.HeardAt is { } at ? $", heard {(DateTimeOffset.UtcNow - at).TotalSeconds:F1} s ago" : "")}");
        }

        var resuming = shard.State == ShardState.Switching;

        // 1. Switching: the owner's nodes stop serving it; every region holds its requests (pause budget) instead of answering.
        var pause = Stopwatch.StartNew();
        if (shard.State == ShardState.Active)
        {
            shard = await _run.StepAsync(key, "1 mark the shard switching", async () =>
            {
                var result = await directory.TryUpdateShardAsync(key, shard.Epoch, new ShardUpdate { State = ShardState.Switching }, cancellationToken);
                return result.Succeeded ? result.Current! : throw new PromotionRefusedException($"the shard changed meanwhile ({result.Outcome}; now epoch {result.Current?.Epoch}): look at 'geoctl dr status' and run again");
            }, s => $"epoch {s.Epoch}");
        }
        else
        {
            reporter.Line($"  ok  1 mark the shard switching: already (epoch {shard.Epoch}; resuming an interrupted switchover)");
        }

        var epoch = shard.Epoch + 1;
        string? switchPoint = null;
        if (!promoted)
        {
            // 2. The owner's fence at the new epoch: its group commits in flight finish first (they hold the fence), none after.
            switchPoint = await _run.StepAsync(key, $"2 fence region {owner}'s database at epoch {epoch}", () => FenceAsync(ownerDatabase, key, standby, epoch, cancellationToken),
                lsn => $"switch point {lsn}");

            // 3. The standby applies through it: a marker committed after the fence arrives there. Too slow, or the standby
            // unreachable: abort, nothing lost (the standby was not touched).
            // Resuming an interrupted run: it may have stopped the standby's applier (step 4), whose replicator then restarts the
            // stream after its back-off; that is given time before the switchover is aborted.
            var catchUp = resuming && request.CatchUpTimeout < ResumeCatchUp ? ResumeCatchUp : request.CatchUpTimeout;
            bool caughtUp;
            try
            {
                caughtUp = (await _run.StepAsync(key, $"3 wait for region {standby} to apply through the switch point", async () =>
                {
                    var waited = Stopwatch.StartNew();
                    return (await ReplicationBarrier.WaitForReplicaAsync(ownerDatabase, standbyDatabase, catchUp, cancellationToken), waited.Elapsed);
                }, r => r.Item1 ? $"applied after {r.Elapsed.TotalSeconds:F2} s" : $"not within {catchUp.TotalSeconds:F0} s")).Item1;
            }
            catch (PromotionFailedException)
            {
                caughtUp = false;
            }

            if (!caughtUp)
            {
                return await AbortAsync(request, shard, ownerDatabase, epoch, cancellationToken);
            }

            // 4. Its applier stops at a transaction boundary (the switch point is applied; nothing comes after it).
            await _run.StepAsync(key, "4 stop the standby's applier", () => ReplicaPromotion.StopApplierAsync(standbyDatabase, TimeSpan.Zero, cancellationToken),
                n => $"{n} applier session(s) ended");

            // 5. The standby's database becomes the owner's at the new epoch; no node writes into it until the directory says so.
            await _run.StepAsync(key, $"5 make region {standby}'s replica the owner's database (fence epoch {epoch})",
                () => ReplicaPromotion.PromoteAsync(standbyDatabase, key.TenantId, key.HomeRegion, standby, epoch, cancellationToken), c => c ? "writable, fence at the new epoch" : "already done");
        }
        else
        {
            reporter.Line($"  ok  2-5 region {standby}'s replica was made the owner's database by the interrupted run");
        }

        // 6. The old owner's database streams from the new owner without a copy: both hold the same at the switch point.
        var slot = ReplicationSlots.DefaultSlotName(shard.DatabaseName, owner);
        var start = await _run.StepAsync(key, $"6 make region {owner}'s database the replica of {standby}",
            () => ReverseAsync(standbyDatabase, standby, ownerDatabase, owner, shard.DatabaseName, slot, cancellationToken), lsn => $"streams from slot {slot} at {lsn}");

        // Both databases are still, and hold the same: their snapshots now are the switch point, compared once the new owner serves.
        await using var switchPointSnapshots = await ShardVerifier.SnapshotAsync(PlatformDatabases.WritableReplica(standbyDatabase), ownerDatabase, cancellationToken);

        // 7. The directory names the new owner; held requests go to it.
        var moved = await _run.StepAsync(key, $"7 make region {standby} the owner", async () =>
        {
            var result = await directory.TryUpdateShardAsync(key, shard.Epoch,
                new ShardUpdate { OwnerRegion = standby, ChangeStandby = true, StandbyRegion = owner, State = ShardState.Active }, cancellationToken);
            return result.Succeeded ? result.Current! : throw new PromotionFailedException($"the directory refused the new owner ({result.Outcome}; now epoch {result.Current?.Epoch})");
        }, s => $"epoch {s.Epoch}, standby {s.StandbyRegion}");

        // 8. The new owner's nodes take the lease: the end of the write pause.
        var served = await _run.StepAsync(key, $"8 wait for region {standby}'s nodes to serve it", () => _run.WaitForOwnerLeaseAsync(key, standby, moved.Epoch, ServeWait, cancellationToken), s => s);
        var pauseSeconds = pause.Elapsed.TotalSeconds;

        // 9. The checksums of the two databases as they were at the switch point.
        var verdict = await _run.StepAsync(key, "9 compare the two databases at the switch point (checksums)",
            () => switchPointSnapshots.CompareAsync(cancellationToken),
            r => r.Consistent ? $"equal ({r.Tables.Count} tables)"
                : $"DIFFERENT: {string.Join("; ", r.Differences.Select(d => $"{d.Table} ({d.SourceRows} rows at {standby}, {d.ReplicaRows} at {owner}; keys {string.Join(", ", d.DifferingKeys.Take(3))})"))}");
        var total = _run.Clock.Elapsed.TotalSeconds;
        var line = string.Create(CultureInfo.InvariantCulture,
            $"switched {key} over to region {standby} at epoch {moved.Epoch} in {total:F1} s; write pause {pauseSeconds:F2} s (switching to served); data lost: none (switch point {switchPoint ?? "applied before"}); checksums {(verdict.Consistent ? "equal" : "DIFFERENT")}");
        reporter.Line(line);
        await _run.RecordAsync(key, "done", verdict.Consistent ? DrOutcomes.Done : DrOutcomes.Failed, line, request.Operator,
            JsonSerializer.Serialize(new { pause_seconds = pauseSeconds, switch_point = switchPoint, replica_start = start, consistent = verdict.Consistent, served }));
        return verdict.Consistent ? PromotionOutcome.Done : PromotionOutcome.Failed;
    }

    /// <summary>Raises the owner database's fence to <paramref name="epoch"/> for the new owner; returns the WAL position after it (the switch point).</summary>
    private static async Task<string> FenceAsync(string ownerDatabase, ShardKey key, string newOwner, long epoch, CancellationToken cancellationToken)
    {
        await using var connection = await PlatformDatabases.OpenUnpooledAsync(ownerDatabase, cancellationToken);
        await using (var fence = new NpgsqlCommand(
            "UPDATE shard_fence SET owner_region = $3, epoch = $4, updated_at = now() WHERE tenant_id = $1 AND home_region = $2 AND epoch <= $4", connection))
        {
            fence.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key.TenantId });
            fence.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key.HomeRegion });
            fence.Parameters.Add(new NpgsqlParameter<string> { TypedValue = newOwner });
            fence.Parameters.Add(new NpgsqlParameter<long> { TypedValue = epoch });
            if (await fence.ExecuteNonQueryAsync(cancellationToken) != 1)
            {
                throw new PromotionFailedException($"the fence of {key} in {connection.Database} is past epoch {epoch} (or names another shard): the shard moved meanwhile");
            }
        }

        await using var lsn = new NpgsqlCommand("SELECT pg_current_wal_lsn()::text", connection);
        return (string)(await lsn.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>The standby did not catch up in time: the old owner serves again at the next epoch; nothing was lost (it never stopped being the one that has everything).</summary>
    private async Task<PromotionOutcome> AbortAsync(SwitchoverRequest request, Shard shard, string ownerDatabase, long epoch, CancellationToken cancellationToken)
    {
        var key = request.Shard;
        await _run.StepAsync(key, $"abort: region {shard.OwnerRegion} stays the owner at epoch {epoch}", async () =>
        {
            await FenceAsync(ownerDatabase, key, shard.OwnerRegion, epoch, cancellationToken);
            var result = await directory.TryUpdateShardAsync(key, shard.Epoch, new ShardUpdate { State = ShardState.Active }, cancellationToken);
            return result.Succeeded ? result.Current! : throw new PromotionFailedException($"the directory refused ({result.Outcome}); run the switchover again to finish or abort it");
        }, s => $"active at epoch {s.Epoch}; held requests go to region {s.OwnerRegion}");
        reporter.Line($"switchover of {key} aborted: region {request.To} did not apply the owner's last commits within {request.CatchUpTimeout.TotalSeconds:F0} s (or could not be reached); region {shard.OwnerRegion} owns it (nothing lost). Look at the replica's lag and run it again.");
        await _run.RecordAsync(key, "done", DrOutcomes.Failed, "aborted: the standby did not catch up in time", request.Operator, null);
        return PromotionOutcome.Failed;
    }

    /// <summary>
    /// Turns the old owner's database into the new owner's replica at the switch point: the publication and a slot on the new
    /// owner (created before it takes a write, so its start is the switch point; reused when an interrupted run made it), then
    /// the old database read-only, its replication positions replaced by that slot's start, its sessions ended.
    /// </summary>
    private async Task<string> ReverseAsync(string newOwnerDatabase, string newOwnerRegion, string oldOwnerDatabase, string oldOwner, string database, string slot,
        CancellationToken cancellationToken)
    {
        // The old owner's own stream to the new owner is over: its slot would hold WAL, and decode the new owner's changes back.
        await ReplicationSlots.DropAsync(PlatformDatabases.WritableReplica(oldOwnerDatabase), ReplicationSlots.DefaultSlotName(database, newOwnerRegion), publication: null, cancellationToken);

        // Writable sessions: a pooled one opened while the database was still a guarded replica keeps its read-only default.
        var newOwner = PlatformDatabases.WritableReplica(newOwnerDatabase);
        await ReplicationSlots.EnsurePublicationAsync(newOwner, ReplicationSlots.DefaultPublication, cancellationToken);
        if (await ReplicationSlots.SlotExistsAsync(newOwner, slot, cancellationToken) && !await StartsAtSlotAsync(oldOwnerDatabase, slot, newOwner, cancellationToken))
        {
            // Left from an earlier time this region owned the shard: not consistent with this switch point.
            await ReplicationSlots.DropAsync(newOwner, slot, publication: null, cancellationToken);
        }

        var start = Lsn.Format(await ReplicationSlots.EnsureSlotAsync(newOwner, slot, cancellationToken));
        await using (var maintenance = await PlatformDatabases.OpenUnpooledAsync(databases.Maintenance(oldOwner), cancellationToken))
        await using (var guard = new NpgsqlCommand($"ALTER DATABASE {ShardDatabase.Quote(database)} SET default_transaction_read_only = on", maintenance))
        {
            await guard.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var old = await PlatformDatabases.OpenUnpooledAsync(PlatformDatabases.WritableReplica(oldOwnerDatabase), cancellationToken))
        await using (var transaction = await old.BeginTransactionAsync(cancellationToken))
        {
            await using (var clear = new NpgsqlCommand("DELETE FROM replication_progress", old, transaction))
            {
                await clear.ExecuteNonQueryAsync(cancellationToken);
            }

            await using var progress = new NpgsqlCommand(
                "INSERT INTO replication_progress (source, position, applied_at, applied_transactions) VALUES ($1, $2, now(), 0)", old, transaction);
            progress.Parameters.Add(new NpgsqlParameter<string> { TypedValue = $"pgoutput:{slot}" });
            progress.Parameters.Add(new NpgsqlParameter<string> { TypedValue = start });
            await progress.ExecuteNonQueryAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }

        await using (var maintenance = await PlatformDatabases.OpenUnpooledAsync(databases.Maintenance(oldOwner), cancellationToken))
        {
            // Sessions opened before the guard keep writing by default: ended, so that every one after it reads only.
            await DrRun.EndSessionsAsync(maintenance, database, cancellationToken);
        }

        // This process's own pooled sessions (the barrier's) were among them.
        await using (var pooled = new NpgsqlConnection(oldOwnerDatabase))
        {
            NpgsqlConnection.ClearPool(pooled);
        }

        return start;
    }

    /// <summary>True when the old owner's database already streams from the slot's start: an interrupted run of this switchover made both.</summary>
    private static async Task<bool> StartsAtSlotAsync(string oldOwnerDatabase, string slot, string newOwner, CancellationToken cancellationToken)
    {
        await using var old = await PlatformDatabases.OpenUnpooledAsync(oldOwnerDatabase, cancellationToken);
        await using var read = new NpgsqlCommand("SELECT position FROM replication_progress WHERE source = $1", old);
        read.Parameters.Add(new NpgsqlParameter<string> { TypedValue = $"pgoutput:{slot}" });
        var position = await read.ExecuteScalarAsync(cancellationToken) as string;
        return position is not null && Lsn.TryParse(position, out var at) && at == await ReplicationSlots.EnsureSlotAsync(newOwner, slot, cancellationToken);
    }

}
