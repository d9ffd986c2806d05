using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Geo.Directory;
using Geo.Directory.Recovery;
using Geo.Directory.Shards;
using Geo.Replication;
using Geo.Replication.Promotion;
using Geo.Schema;
using Npgsql;

namespace Geo.Provisioning.Recovery;

/// <summary>How a promotion ended; the command's exit code.</summary>
public enum PromotionOutcome
{
    /// <summary>The standby owns the shard now (or did already).</summary>
    Done = 0,

    /// <summary>A step failed; the shard is left where that step left it, and running the command again resumes.</summary>
    Failed = 1,

    /// <summary>Not started: a precondition does not hold (another promote running, wrong region, standby not ready).</summary>
    Refused = 2,
}

/// <summary>What to promote and how.</summary>
/// <param name="Shard">The shard.</param>
/// <param name="To">The region to make its owner: its standby.</param>
/// <param name="Force">Skip the standby's readiness checks (never the wait for the old owner's lease).</param>
/// <param name="Operator">Who runs it, for the DR log.</param>
public sealed record PromotionRequest(ShardKey Shard, string To, bool Force, string? Operator);

/// <summary>
/// Unplanned failover of one shard to its standby region (<c>geoctl dr promote</c>, and the standby region's replicator when
/// automatic failover is on): every step is printed with its
/// timing and recorded in the directory's DR log. Two owners are impossible by construction: the shard leaves the
/// routable states first (compare-and-set on its epoch), the old owner's lease is waited out (its nodes stop
/// acknowledging before it ends, and cannot renew it once the shard is promoting), and only then is the replica made
/// writable at a higher epoch. Every step can be run again: a promotion killed at any point is finished by the next run.
/// </summary>
/// <param name="directory">The directory: the shard, its leases and the DR log.</param>
/// <param name="databases">Where each region's databases are.</param>
/// <param name="reporter">Where the steps are reported.</param>
/// <param name="driver">Who drives it, the first part of its driver lease's holder (<c>geoctl</c>, <c>geo-replicator@b</c>).</param>
public sealed class ShardPromotion(IDirectoryStore directory, PlatformDatabases databases, IProvisioningProgress reporter, string driver = "geoctl")
{
    private const string Operation = DrOperations.Promote;

    /// <summary>How long the promote's own driver lease lasts; a killed promote blocks a new one at most this long.</summary>
    public static readonly TimeSpan DriverLeaseTtl = TimeSpan.FromSeconds(5);

    /// <summary>How long the replicator is given to stop the shard's applier before its sessions are terminated.</summary>
    public static readonly TimeSpan ApplierStopWait = TimeSpan.FromSeconds(5);

    /// <summary>How long to wait for the new owner's nodes to take the shard's lease before saying they have not.</summary>
    public static readonly TimeSpan ServeWait = TimeSpan.FromSeconds(15);

    private readonly Stopwatch _clock = new();

    public async Task<PromotionOutcome> RunAsync(PromotionRequest request, CancellationToken cancellationToken)
    {
        _clock.Restart();
        var key = request.Shard;
        var shard = await FindAsync(key, cancellationToken);
        if (shard is null)
        {
            return await RefuseAsync(key, "check", $"no shard {key} in the directory", cancellationToken);
        }

        if (shard.OwnerRegion == request.To && shard.State == ShardState.Active)
        {
            return await FinishedAlreadyAsync(request, shard, cancellationToken);
        }

        if (shard.StandbyRegion != request.To)
        {
            return await RefuseAsync(key, "check", shard.StandbyRegion is null
                ? $"{key} has no standby region; only a standby can be promoted"
                : $"region {request.To} is not the standby of {key} (its standby is {shard.StandbyRegion})", cancellationToken);
        }

        if (shard.State is not (ShardState.Active or ShardState.Promoting))
        {
            return await RefuseAsync(key, "check", $"{key} is {ShardStates.ToText(shard.State)}; only an active shard (or one whose promotion was interrupted) can be promoted", cancellationToken);
        }

        var holder = $"{driver}:{Environment.MachineName}:{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}:{Guid.NewGuid():N}";
        var lease = await directory.TryAcquireLeaseAsync(key, holder, DriverLeaseTtl, cancellationToken);
        if (!lease.Succeeded)
        {
            var held = lease.Current?.Lease;
            return await RefuseAsync(key, "lease", held is null
                ? $"could not take the promotion lease of {key} ({lease.Outcome})"
                : $"another promote or switchover of {key} is running ({held.Holder}, lease until {held.ExpiresAt:HH:mm:ss.fff}); a killed one's lease lapses within {DriverLeaseTtl.TotalSeconds:F0} s: run again then", cancellationToken);
        }

        using var renewing = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var renewal = RenewDriverLeaseAsync(key, holder, renewing);
        try
        {
            return await PromoteAsync(request, shard, renewing.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            await RecordAsync(key, "lease", DrOutcomes.Failed, "the promotion lease could not be renewed (directory unreachable?); stopped where it was: run the command again", null, null);
            reporter.Line("geoctl: the promotion lease could not be renewed; stopped. Run the command again to resume.");
            return PromotionOutcome.Failed;
        }
        finally
        {
            await renewing.CancelAsync();
            await renewal;
            try
            {
                await directory.ReleaseLeaseAsync(key, holder, CancellationToken.None);
            }
            catch (Exception ex) when (ex is DirectoryStoreException or NpgsqlException or IOException)
            {
                reporter.Line($"(the promotion lease was not given back: {ex.Message}; it lapses in {DriverLeaseTtl.TotalSeconds:F0} s)");
            }
        }
    }

    private async Task<PromotionOutcome> PromoteAsync(PromotionRequest request, Shard shard, CancellationToken cancellationToken)
    {
        var key = request.Shard;
        var oldOwner = shard.OwnerRegion;
        var replica = databases.Database(request.To, shard.DatabaseName);
        reporter.Line($"promoting {key}: owner {oldOwner} -> {request.To} (epoch {shard.Epoch}, {ShardStates.ToText(shard.State)}){(request.Force ? ", readiness checks skipped (--force)" : "")}");
        await RecordAsync(key, "start", DrOutcomes.Started, $"owner {oldOwner} -> {request.To} at epoch {shard.Epoch}{(request.Force ? " (--force)" : "")}", request.Operator, null);

        // 0. The standby must be able to take over: its replica reachable and seeded.
        var position = await StepAsync(key, "0 check the standby's replica", async () =>
        {
            var read = await ReplicaPromotion.ReadPositionAsync(replica, cancellationToken);
            if (read is null && !request.Force)
            {
                throw new PromotionRefusedException($"the replica {shard.DatabaseName} in region {request.To} holds no replication position: it was never seeded (pass --force to promote it anyway)");
            }

            return read;
        }, p => p is null ? "no replication position (forced)" : $"applied up to {p.AppliedPosition} (source commit {Time(p.AppliedCommitTime)})");

        // 1. Out of the routable states, at the current epoch: a concurrent change (or promote) loses the compare-and-set.
        if (shard.State == ShardState.Active)
        {
            shard = await StepAsync(key, "1 mark the shard promoting", async () =>
            {
                var result = await directory.TryUpdateShardAsync(key, shard.Epoch, new ShardUpdate { State = ShardState.Promoting }, cancellationToken);
                return result.Succeeded ? result.Current! : throw new PromotionRefusedException($"the shard changed meanwhile ({result.Outcome}; now epoch {result.Current?.Epoch}, {(result.Current is null ? "gone" : ShardStates.ToText(result.Current.State))}): look at 'geoctl dr status' and run again");
            }, s => $"epoch {s.Epoch}");
        }
        else
        {
            reporter.Line($"  ok  1 mark the shard promoting: already (epoch {shard.Epoch}; resuming an interrupted promotion)");
        }

        // 2. The old owner's lease runs out: never skipped. Its nodes stopped acknowledging before this (drift margin).
        await StepAsync(key, $"2 wait for region {oldOwner}'s owner lease to run out", () => WaitForOwnerLeaseAsync(key, oldOwner, cancellationToken), waited => waited);

        // 3. The applier stops at a transaction boundary; its position is what the new owner starts from.
        var terminated = await StepAsync(key, "3 stop the standby's applier", () => ReplicaPromotion.StopApplierAsync(replica, ApplierStopWait, cancellationToken),
            n => n == 0 ? "stopped by the replicator" : $"{n} applier session(s) terminated (the replicator had not stopped them)");

        // 4. The replica becomes the owner's database, fenced at the epoch the directory will give it. From here no stream
        // can write into it (a replicator that cannot see the directory and restarted its stream is refused), so the
        // position read after it is final.
        var epoch = shard.Epoch + 1;
        await StepAsync(key, $"4 make the replica the owner's database (fence epoch {epoch})",
            () => ReplicaPromotion.PromoteAsync(replica, key.TenantId, key.HomeRegion, request.To, epoch, cancellationToken),
            changed => changed ? "writable, fence raised" : "already done");

        // 5. What is lost: measured from what the standby had heard of its source, at the final position.
        position = await ReplicaPromotion.ReadPositionAsync(replica, cancellationToken);
        var estimate = position is null ? new RpoEstimate(false, null, 0, null, "the replica holds no replication position") : ReplicaPromotion.Estimate(position);
        var rpo = Describe(estimate, position);
        reporter.Line($"  ok  5 data lost (estimate): {rpo}");
        await RecordAsync(key, "5 estimate the data lost", DrOutcomes.Info, rpo, request.Operator, JsonSerializer.Serialize(new
        {
            known = estimate.Known,
            seconds = estimate.Seconds,
            bytes = estimate.Bytes,
            transactions = estimate.Transactions,
            basis = estimate.Basis,
            applied_position = position?.AppliedPosition,
            applied_commit_time = position?.AppliedCommitTime,
            heard_position = position?.HeardPosition,
            heard_source_time = position?.HeardSourceTime,
            terminated_sessions = terminated,
        }));

        // 6. The directory names the new owner; every service follows it from its watch.
        var promoted = await StepAsync(key, $"6 make region {request.To} the owner", async () =>
        {
            var result = await directory.TryUpdateShardAsync(key, shard.Epoch,
                new ShardUpdate { OwnerRegion = request.To, ChangeStandby = true, StandbyRegion = null, State = ShardState.Active }, cancellationToken);
            return result.Succeeded ? result.Current! : throw new PromotionFailedException($"the directory refused the new owner ({result.Outcome}; now epoch {result.Current?.Epoch})");
        }, s => $"epoch {s.Epoch}, no standby until region {oldOwner} rejoins");

        // 7. The new owner's nodes take the lease and serve; until then the NAS's backup requests are not answered.
        await StepAsync(key, $"7 wait for region {request.To}'s nodes to serve it", () => WaitForNewOwnerAsync(key, request.To, promoted.Epoch, cancellationToken), s => s);

        var total = _clock.Elapsed.TotalSeconds;
        reporter.Line($"promoted {key} to region {request.To} at epoch {promoted.Epoch} in {total:F1} s; data lost (estimate): {rpo}");
        reporter.Line($"next: when region {oldOwner} is back, rejoin it as the standby (its unshipped tail is not in {request.To})");
        await RecordAsync(key, "done", DrOutcomes.Done, $"owner {request.To} at epoch {promoted.Epoch} in {total:F1} s", request.Operator, null);
        return PromotionOutcome.Done;
    }

    /// <summary>
    /// The shard is owned by the target region already: either promoted long ago (nothing to do), or by a promotion
    /// killed after it named the new owner (step 6), whose last step, the wait for the new owner's nodes, is finished here.
    /// </summary>
    private async Task<PromotionOutcome> FinishedAlreadyAsync(PromotionRequest request, Shard shard, CancellationToken cancellationToken)
    {
        var key = request.Shard;
        var events = await directory.ListDrEventsAsync(key, 1, cancellationToken);
        var last = events.Count == 0 ? null : events[^1];
        if (last is not { Operation: Operation } || last.Step == "done")
        {
            reporter.Line($"{key} is owned by region {request.To} already (epoch {shard.Epoch}): nothing to do");
            return PromotionOutcome.Done;
        }

        reporter.Line($"{key} is owned by region {request.To} already (epoch {shard.Epoch}); finishing the promotion that was interrupted after step 6");
        await StepAsync(key, $"7 wait for region {request.To}'s nodes to serve it", () => WaitForNewOwnerAsync(key, request.To, shard.Epoch, cancellationToken), s => s);
        reporter.Line($"promoted {key} to region {request.To} at epoch {shard.Epoch}; the data-lost estimate is in 'geoctl dr log {key}' (step 5)");
        await RecordAsync(key, "done", DrOutcomes.Done, $"owner {request.To} at epoch {shard.Epoch} (finished by a second run)", request.Operator, null);
        return PromotionOutcome.Done;
    }

    private async Task<string> WaitForOwnerLeaseAsync(ShardKey key, string owner, CancellationToken cancellationToken)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            var view = await directory.LoadOwnerLeasesAsync(cancellationToken);
            var lease = view.Leases.FirstOrDefault(l => l.Key == key);
            var left = lease is null ? TimeSpan.Zero : lease.ExpiresAt - view.DirectoryNow;
            if (left <= TimeSpan.Zero)
            {
                return lease is null ? "no lease was held" : $"lease of {lease.Holder} (epoch {lease.Epoch}) expired; waited {waited.Elapsed.TotalSeconds:F1} s";
            }

            // By the directory's clock: a node measures its own lease shorter than this, so once it is over here it is over there.
            await Task.Delay(left + TimeSpan.FromMilliseconds(20), cancellationToken);
        }
    }

    private async Task<string> WaitForNewOwnerAsync(ShardKey key, string region, long epoch, CancellationToken cancellationToken)
    {
        var waited = Stopwatch.StartNew();
        while (waited.Elapsed < ServeWait)
        {
            var view = await directory.LoadOwnerLeasesAsync(cancellationToken);
            if (view.Leases.Any(l => l.Key == key && l.Holder == region && l.Epoch == epoch && l.ExpiresAt > view.DirectoryNow))
            {
                return $"lease taken after {waited.Elapsed.TotalSeconds:F1} s";
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
        }

        return $"not yet after {ServeWait.TotalSeconds:F0} s: the directory names region {region} the owner, but no node of it took the lease; check that geo-region runs in {region}";
    }

    private async Task RenewDriverLeaseAsync(ShardKey key, string holder, CancellationTokenSource renewing)
    {
        using var timer = new PeriodicTimer(DriverLeaseTtl / 5);
        try
        {
            while (await timer.WaitForNextTickAsync(renewing.Token))
            {
                var result = await directory.TryAcquireLeaseAsync(key, holder, DriverLeaseTtl, renewing.Token);
                if (!result.Succeeded)
                {
                    await renewing.CancelAsync();
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception ex) when (ex is DirectoryStoreException or NpgsqlException or IOException or TimeoutException)
        {
            await renewing.CancelAsync();
        }
    }

    private async Task<T> StepAsync<T>(ShardKey key, string step, Func<Task<T>> action, Func<T, string> describe)
    {
        var started = _clock.Elapsed;
        try
        {
            var result = await reporter.StepAsync(step, action, describe);
            await RecordAsync(key, step, DrOutcomes.Done, describe(result), null, null, (_clock.Elapsed - started).TotalMilliseconds);
            return result;
        }
        catch (PromotionRefusedException ex)
        {
            await RecordAsync(key, step, DrOutcomes.Refused, ex.Message, null, null, (_clock.Elapsed - started).TotalMilliseconds);
            throw;
        }
        catch (Exception ex) when (ex is PromotionFailedException or ReplicationException or NpgsqlException or DirectoryStoreException or IOException or TimeoutException)
        {
            await RecordAsync(key, step, DrOutcomes.Failed, ex.Message, null, null, (_clock.Elapsed - started).TotalMilliseconds);
            throw new PromotionFailedException($"step '{step}' failed: {ex.Message}. Nothing after it was done; fix the cause and run the same command again to resume", ex);
        }
    }

    private async Task<Shard?> FindAsync(ShardKey key, CancellationToken cancellationToken) =>
        (await directory.LoadAsync(cancellationToken)).Shards.FirstOrDefault(s => s.Key == key);

    private async Task<PromotionOutcome> RefuseAsync(ShardKey key, string step, string why, CancellationToken cancellationToken)
    {
        await RecordAsync(key, step, DrOutcomes.Refused, why, null, null);
        throw new PromotionRefusedException(why);
    }

    /// <summary>Records a DR event; a directory that cannot take it does not stop the promotion (it is printed too).</summary>
    private async Task RecordAsync(ShardKey key, string step, string outcome, string detail, string? @operator, string? data, double? elapsedMs = null)
    {
        try
        {
            await directory.AppendDrEventAsync(new DrEvent(0, default, key, Operation, step, outcome, detail, @operator, data, elapsedMs), CancellationToken.None);
        }
        catch (Exception ex) when (ex is DirectoryStoreException or NpgsqlException or IOException)
        {
            reporter.Line($"(not recorded in the DR log: {ex.Message})");
        }
    }

    /// <summary>The RPO estimate as an operator reads it.</summary>
    public static string Describe(RpoEstimate estimate, ReplicaPosition? position)
    {
        if (!estimate.Known)
        {
            return $"unknown ({estimate.Basis})";
        }

        var parts = new List<string> { $"{estimate.Seconds.ToString("F3", CultureInfo.InvariantCulture)} s of commits" };
        if (estimate.Transactions is { } transactions)
        {
            parts.Add($"~{transactions.ToString(CultureInfo.InvariantCulture)} transactions");
        }

        if (estimate.Bytes is { } bytes)
        {
            parts.Add($"<= {bytes.ToString("N0", CultureInfo.InvariantCulture)} WAL bytes");
        }

        var window = position is null ? "" : $" (last applied commit {Time(position.AppliedCommitTime)}, source last heard at {Time(position.HeardSourceTime)})";
        return $"{string.Join(", ", parts)}{window}; {estimate.Basis}";
    }

    private static string Time(DateTimeOffset? time) => time?.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture) ?? "-";
}

/// <summary>A precondition of the promotion does not hold; nothing was changed by the step that found it.</summary>
public sealed class PromotionRefusedException(string message) : Exception(message);

/// <summary>A step of the promotion failed; running the command again resumes from it.</summary>
public sealed class PromotionFailedException(string message, Exception? inner = null) : Exception(message, inner);
