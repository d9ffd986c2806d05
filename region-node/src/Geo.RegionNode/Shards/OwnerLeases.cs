using System.Diagnostics;
using Geo.Directory;
using Geo.Directory.Shards;
using Geo.RegionNode.Telemetry;
using Microsoft.Extensions.Options;

namespace Geo.RegionNode.Shards;

/// <summary>
/// This node's owner leases in the directory, one per shard it owns, renewed every
/// <see cref="RegionNodeOptions.LeaseRenewInterval"/> for <see cref="RegionNodeOptions.LeaseTtl"/>. A node measures
/// its lease from the moment it <em>sent</em> the renewal, with the monotonic clock, less
/// <see cref="RegionNodeOptions.LeaseDriftMargin"/>: it always gives the lease up before the directory (whose clock
/// set the expiry on receipt) deems it expired, so a promotion that waits for the expiry never finds two owners.
/// </summary>
internal sealed partial class OwnerLeases(IDirectoryStore store, IOptions<RegionNodeOptions> options, Metrics metrics, ILogger<OwnerLeases> logger) : IDisposable
{
    private readonly RegionNodeOptions _options = options.Value;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, bool> _serving = new(StringComparer.Ordinal);
    private long _lastSuccess;
    private long _failingSince;
    private long _recoveredAt;

    /// <summary>Monotonic timestamp of the last renewal the directory answered; 0 when none yet.</summary>
    public long LastSuccess => Volatile.Read(ref _lastSuccess);

    /// <summary>
    /// Whether this node reached the directory within the last two renewal intervals: what a peer region asks before it
    /// keeps serving without a lease (failsafe), and what <c>/health/ready</c> reports.
    /// </summary>
    public bool DirectoryReachable =>
        LastSuccess != 0 && Stopwatch.GetElapsedTime(LastSuccess) < _options.LeaseRenewInterval * 2 + TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// After regaining the directory, how long this node takes no lease on a shard it does not serve yet: longer than
    /// one failsafe extension of another region that was told a moment ago that this one could not reach the directory.
    /// </summary>
    public TimeSpan FailsafeGrace => _options.LeaseRenewInterval * 4 + TimeSpan.FromMilliseconds(1_250);

    /// <summary>
    /// Renews the leases of <paramref name="shards"/> (all of them in one round trip) and fences those refused; false
    /// when the directory did not answer.
    /// </summary>
    public async Task<bool> RenewAsync(IReadOnlyCollection<ShardHandle> shards, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var sent = Stopwatch.GetTimestamp();
            var request = shards.Select(s => (new ShardKey(s.TenantId, s.HomeRegion), s.Epoch)).ToList();
            OwnerLeaseRenewal renewal;
            try
            {
                // A renewal slower than the interval is as good as failed: the next one starts from a fresh timestamp.
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(_options.LeaseRenewInterval * 2);
                renewal = await store.RenewOwnerLeasesAsync(_options.RegionId, request, _options.LeaseTtl, timeout.Token);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                if (Interlocked.CompareExchange(ref _failingSince, sent, 0) == 0)
                {
                    LogRenewFailing(logger, _options.LeaseTtl.TotalSeconds, ex);
                }

                ReportTransitions(shards, "its owner lease could not be renewed (directory unreachable)");
                return false;
            }

            Volatile.Write(ref _lastSuccess, Stopwatch.GetTimestamp());
            if (Interlocked.Exchange(ref _failingSince, 0) is var since and not 0)
            {
                var seconds = Stopwatch.GetElapsedTime(since).TotalSeconds;
                LogRenewRecovered(logger, seconds);
                Volatile.Write(ref _recoveredAt, Stopwatch.GetTimestamp());
            }

            var recovering = Volatile.Read(ref _recoveredAt) is var recovered and not 0 && Stopwatch.GetElapsedTime(recovered) < FailsafeGrace;

            var validUntil = sent + (long)(_options.LeaseTtl.TotalSeconds * (1 - _options.LeaseDriftMargin) * Stopwatch.Frequency);
            var granted = renewal.Granted.Where(g => g.Holder == _options.RegionId).ToDictionary(g => g.Key, g => g.Epoch);
            foreach (var shard in shards)
            {
                if (granted.TryGetValue(new ShardKey(shard.TenantId, shard.HomeRegion), out var epoch) && epoch == shard.Epoch)
                {
                    if (shard.HoldsLease || !recovering)
                    {
                        shard.ExtendLease(validUntil);
                    }
                }
                else
                {
                    shard.RevokeLease();
                }
            }

            ReportTransitions(shards, recovering
                ? "directory regained a moment ago; waiting out the failsafe grace before taking new leases"
                : "the directory refused its owner lease (another owner, a newer epoch, or a promotion under way)");
            return true;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Gives the leases back (graceful shutdown), so that a promotion need not wait for them to run out.</summary>
    public async Task ReleaseAsync(IReadOnlyCollection<ShardHandle> shards, CancellationToken cancellationToken)
    {
        foreach (var shard in shards)
        {
            shard.RevokeLease();
        }

        try
        {
            await store.ReleaseOwnerLeasesAsync(_options.RegionId, cancellationToken);
        }
        catch (Exception ex)
        {
            LogReleaseFailed(logger, ex);
        }
    }

    public void Dispose() => _gate.Dispose();

    /// <summary>Counts a request the node did not acknowledge because it does not hold the shard's lease.</summary>
    public void CountFenced(ShardHandle shard) =>
        metrics.Counter("geo_fenced_requests_total", "Requests not acknowledged because this node does not hold the shard's owner lease", $"shard=\"{shard}\"").Increment();

    /// <summary>Logs each shard's change between serving and fenced once, when it happens.</summary>
    private void ReportTransitions(IReadOnlyCollection<ShardHandle> shards, string why)
    {
        lock (_serving)
        {
            foreach (var shard in shards)
            {
                var name = shard.ToString();
                var now = shard.HoldsLease;
                if (_serving.TryGetValue(name, out var was) && was == now)
                {
                    continue;
                }

                _serving[name] = now;
                if (now)
                {
                    LogServing(logger, shard, shard.Epoch);
                }
                else if (was)
                {
                    LogFenced(logger, shard, why);
                }
                else
                {
                    LogNotServing(logger, shard, why);
                }
            }
        }
    }

    [LoggerMessage(EventId = 1110, Level = LogLevel.Information, Message = "Shard {Shard}: owner lease held at epoch {Epoch}; serving")]
    private static partial void LogServing(ILogger logger, ShardHandle shard, long epoch);

    [LoggerMessage(EventId = 1111, Level = LogLevel.Error, Message = "Shard {Shard} FENCED: {Why}; acknowledging nothing for it until the lease is held again")]
    private static partial void LogFenced(ILogger logger, ShardHandle shard, string why);

    [LoggerMessage(EventId = 1112, Level = LogLevel.Warning, Message = "Shard {Shard} not served yet: {Why}")]
    private static partial void LogNotServing(ILogger logger, ShardHandle shard, string why);

    [LoggerMessage(EventId = 1113, Level = LogLevel.Error, Message = "Owner leases cannot be renewed; shards of this region are fenced when their lease of {Ttl} s runs out")]
    private static partial void LogRenewFailing(ILogger logger, double ttl, Exception exception);

    [LoggerMessage(EventId = 1114, Level = LogLevel.Information, Message = "Owner leases renewed again after {Seconds:F1} s")]
    private static partial void LogRenewRecovered(ILogger logger, double seconds);

    [LoggerMessage(EventId = 1115, Level = LogLevel.Warning, Message = "Could not give the owner leases back; a promotion waits for them to run out")]
    private static partial void LogReleaseFailed(ILogger logger, Exception exception);
}
