using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Geo.Directory;
using Geo.Directory.Recovery;
using Geo.Directory.Shards;
using Geo.Replication.Promotion;
using Geo.Schema;

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
    public static readonly TimeSpan DriverLeaseTtl = DrRun.DriverLeaseTtl;

    /// <summary>How long the replicator is given to stop the shard's applier before its sessions are terminated.</summary>
    public static readonly TimeSpan ApplierStopWait = TimeSpan.FromSeconds(5);

    /// <summary>How long to wait for the new owner's nodes to take the shard's lease before saying they have not.</summary>
    public static readonly TimeSpan ServeWait = TimeSpan.FromSeconds(15);

    /// <summary>A standby that stopped hearing its source longer than this before the source's last lease renewal says so with the estimate.</summary>
    private static readonly TimeSpan SilenceWorthSaying = TimeSpan.FromSeconds(2);

    private readonly DrRun _run = new(directory, reporter, Operation, driver);

    public async Task<PromotionOutcome> RunAsync(PromotionRequest request, CancellationToken cancellationToken)
    {
        _run.Clock.Restart();
        var key = request.Shard;
        var shard = await _run.FindAsync(key, cancellationToken);
        if (shard is null)
        {
            return await _run.RefuseAsync(key, "check", $"no shard {key} in the directory");
        }

        if (shard.OwnerRegion == request.To && shard.State == ShardState.Active)
        {
            return await FinishedAlreadyAsync(request, shard, cancellationToken);
        }

        if (shard.StandbyRegion != request.To)
        {
            return await _run.RefuseAsync(key, "check", shard.StandbyRegion is null
                ? $"{key} has no standby region; only a standby can be promoted"
                : $"region {request.To} is not the standby of {key} (its standby is {shard.StandbyRegion})");
        }

        if (shard.State is not (ShardState.Active or ShardState.Promoting))
        {
            return await _run.RefuseAsync(key, "check", $"{key} is {ShardStates.ToText(shard.State)}; only an active shard (or one whose promotion was interrupted) can be promoted");
        }

        return await _run.WithDriverLeaseAsync(key, token => PromoteAsync(request, shard, token), cancellationToken);
    }

    private async Task<PromotionOutcome> PromoteAsync(PromotionRequest request, Shard shard, CancellationToken cancellationToken)
    {
        var key = request.Shard;
        var oldOwner = shard.OwnerRegion;
        var replica = databases.Database(request.To, shard.DatabaseName);
        reporter.Line($"promoting {key}: owner {oldOwner} -> {request.To} (epoch {shard.Epoch}, {ShardStates.ToText(shard.State)}){(request.Force ? ", readiness checks skipped (--force)" : "")}");
        await _run.RecordAsync(key, "start", DrOutcomes.Started, $"owner {oldOwner} -> {request.To} at epoch {shard.Epoch}{(request.Force ? " (--force)" : "")}", request.Operator, null);

        // 0. The standby must be able to take over: its replica reachable and seeded.
        var position = await _run.StepAsync(key, "0 check the standby's replica", async () =>
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
            shard = await _run.StepAsync(key, "1 mark the shard promoting", async () =>
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
        var ownerLease = await _run.StepAsync(key, $"2 wait for region {oldOwner}'s owner lease to run out", () => WaitForOwnerLeaseAsync(key, oldOwner, cancellationToken), waited => waited.Text);

        // 3. The applier stops at a transaction boundary; its position is what the new owner starts from.
        var terminated = await _run.StepAsync(key, "3 stop the standby's applier", () => ReplicaPromotion.StopApplierAsync(replica, ApplierStopWait, cancellationToken),
            n => n == 0 ? "stopped by the replicator" : $"{n} applier session(s) terminated (the replicator had not stopped them)");

        // 4. The replica becomes the owner's database, fenced at the epoch the directory will give it. From here no stream
        // can write into it (a replicator that cannot see the directory and restarted its stream is refused), so the
        // position read after it is final.
        var epoch = shard.Epoch + 1;
        await _run.StepAsync(key, $"4 make the replica the owner's database (fence epoch {epoch})",
            () => ReplicaPromotion.PromoteAsync(replica, key.TenantId, key.HomeRegion, request.To, epoch, cancellationToken),
            changed => changed ? "writable, fence raised" : "already done");

        // 5. What is lost: measured from what the standby had heard of its source, at the final position.
        position = await ReplicaPromotion.ReadPositionAsync(replica, cancellationToken);
        var estimate = position is null ? new RpoEstimate(false, null, 0, null, "the replica holds no replication position") : ReplicaPromotion.Estimate(position);
        var rpo = Describe(estimate, position);
        // The owner renewed its lease while it was alive and acknowledging; a standby that stopped hearing it well before then
        // (its stream stopped, or lagged) did not hear of the commits in between, and the estimate cannot count them.
        var silence = position?.HeardAt is { } heardAt && ownerLease.Lease is { } last ? Math.Max(0, (last.RenewedAt - heardAt).TotalSeconds) : (double?)null;
        if (silence > SilenceWorthSaying.TotalSeconds)
        {
            rpo += $" Region {oldOwner} was alive (it renewed its lease) {silence:F1} s after the standby last heard from it: commits of that time are not in" +
                $" this estimate; 'geoctl dr rejoin {key}' measures and recovers them once region {oldOwner} is back";
        }

        reporter.Line($"  ok  5 data lost (estimate): {rpo}");
        await _run.RecordAsync(key, "5 estimate the data lost", DrOutcomes.Info, rpo, request.Operator, JsonSerializer.Serialize(new
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
            silence_seconds = silence,
        }));

        // 6. The directory names the new owner; every service follows it from its watch.
        var promoted = await _run.StepAsync(key, $"6 make region {request.To} the owner", async () =>
        {
            var result = await directory.TryUpdateShardAsync(key, shard.Epoch,
                new ShardUpdate { OwnerRegion = request.To, ChangeStandby = true, StandbyRegion = null, State = ShardState.Active }, cancellationToken);
            return result.Succeeded ? result.Current! : throw new PromotionFailedException($"the directory refused the new owner ({result.Outcome}; now epoch {result.Current?.Epoch})");
        }, s => $"epoch {s.Epoch}, no standby until region {oldOwner} rejoins");

        // 7. The new owner's nodes take the lease and serve; until then the NAS's backup requests are not answered.
        await _run.StepAsync(key, $"7 wait for region {request.To}'s nodes to serve it", () => _run.WaitForOwnerLeaseAsync(key, request.To, promoted.Epoch, ServeWait, cancellationToken), s => s);

        var total = _run.Clock.Elapsed.TotalSeconds;
        reporter.Line($"promoted {key} to region {request.To} at epoch {promoted.Epoch} in {total:F1} s; data lost (estimate): {rpo}");
        reporter.Line($"next: when region {oldOwner} is back, rejoin it as the standby (its unshipped tail is not in {request.To})");
        await _run.RecordAsync(key, "done", DrOutcomes.Done, $"owner {request.To} at epoch {promoted.Epoch} in {total:F1} s", request.Operator, null);
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
        await _run.StepAsync(key, $"7 wait for region {request.To}'s nodes to serve it", () => _run.WaitForOwnerLeaseAsync(key, request.To, shard.Epoch, ServeWait, cancellationToken), s => s);
        reporter.Line($"promoted {key} to region {request.To} at epoch {shard.Epoch}; the data-lost estimate is in 'geoctl dr log {key}' (step 5)");
        await _run.RecordAsync(key, "done", DrOutcomes.Done, $"owner {request.To} at epoch {shard.Epoch} (finished by a second run)", request.Operator, null);
        return PromotionOutcome.Done;
    }

    /// <summary>Waits until the owner's lease is over; returns what was waited and the lease as it ended (null when none was held).</summary>
    private async Task<(string Text, OwnerLease? Lease)> WaitForOwnerLeaseAsync(ShardKey key, string owner, CancellationToken cancellationToken)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            var view = await directory.LoadOwnerLeasesAsync(cancellationToken);
            var lease = view.Leases.FirstOrDefault(l => l.Key == key);
            var left = lease is null ? TimeSpan.Zero : lease.ExpiresAt - view.DirectoryNow;
            if (left <= TimeSpan.Zero)
            {
                return (lease is null ? "no lease was held" : $"lease of {lease.Holder} (epoch {lease.Epoch}) expired; waited {waited.Elapsed.TotalSeconds:F1} s", lease);
            }

            // By the directory's clock: a node measures its own lease shorter than this, so once it is over here it is over there.
            await Task.Delay(left + TimeSpan.FromMilliseconds(20), cancellationToken);
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
