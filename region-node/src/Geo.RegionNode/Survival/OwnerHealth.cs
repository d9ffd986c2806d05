using System.Collections.Concurrent;
using System.Diagnostics;
using Geo.RegionNode.Telemetry;
using Microsoft.Extensions.Options;

namespace Geo.RegionNode.Survival;

/// <summary>
/// A circuit breaker per owner region, for the shards this region stands by for. After
/// <see cref="RegionNodeOptions.OwnerDownAfterTimeouts"/> forwards in a row go unanswered, the owner is deemed down: its
/// shards' requests are answered here at once (from the replica, or into the journal) instead of each waiting out a
/// forward, and one request every <see cref="RegionNodeOptions.OwnerProbeInterval"/> is still forwarded as a probe.
/// The first answer closes the breaker again. Heartbeats (<see cref="OwnerHeartbeat"/>) open it too, without traffic.
/// </summary>
internal sealed partial class OwnerHealth
{
    private readonly RegionNodeOptions _options;
    private readonly ILogger<OwnerHealth> _logger;
    private readonly ConcurrentDictionary<string, State> _owners = new(StringComparer.Ordinal);

    public OwnerHealth(IOptions<RegionNodeOptions> options, Metrics metrics, ILogger<OwnerHealth> logger)
    {
        _options = options.Value;
        _logger = logger;
        metrics.Gauge("geo_owner_regions_down", "Owner regions this node deems down (their stood-by shards answered here)", () => _owners.Values.Count(s => s.Down));
    }

    /// <summary>
    /// Whether a request for <paramref name="region"/>'s shard is to be forwarded: always while it is up; while it is
    /// down, one probe per interval, and none while its heartbeats go unanswered.
    /// </summary>
    public bool ShouldForward(string region)
    {
        var state = _owners.GetOrAdd(region, _ => new State());
        lock (state)
        {
            if (!state.Down)
            {
                return true;
            }

            // Its node does not even answer heartbeats: a request sent as a probe would only wait out its timeout.
            if (state.MissedHeartbeats > 0)
            {
                return false;
            }

            var now = Stopwatch.GetTimestamp();
            if (now < state.NextProbe)
            {
                return false;
            }

            state.NextProbe = now + (long)(_options.OwnerProbeInterval.TotalSeconds * Stopwatch.Frequency);
            return true;
        }
    }

    /// <summary>The owner regions deemed down now.</summary>
    public IReadOnlyList<string> DownRegions => _owners.Where(o => o.Value.Down).Select(o => o.Key).Order(StringComparer.Ordinal).ToList();

    /// <summary>Whether <paramref name="region"/> is deemed down now.</summary>
    public bool IsDown(string region) => _owners.TryGetValue(region, out var state) && state.Down;

    /// <summary>The owner answered a forward: up again.</summary>
    public void Answered(string region)
    {
        if (!_owners.TryGetValue(region, out var state))
        {
            return;
        }

        lock (state)
        {
            if (state.Down)
            {
                var seconds = Stopwatch.GetElapsedTime(state.DownSince).TotalSeconds;
                LogUp(_logger, region, seconds);
            }

            state.Failures = 0;
            state.MissedHeartbeats = 0;
            state.Down = false;
        }
    }

    /// <summary>A forward to the owner went unanswered.</summary>
    public void TimedOut(string region)
    {
        var state = _owners.GetOrAdd(region, _ => new State());
        lock (state)
        {
            state.Failures++;
            DownAfter(state, region, state.Failures, "forwards");
        }
    }

    /// <summary>
    /// A heartbeat to the owner (<see cref="OwnerHeartbeat"/>) went unanswered. Counted apart from forwards, with the
    /// same threshold, so that a lost owner is deemed down before its NASes, failing over, send their requests here.
    /// </summary>
    public void HeartbeatMissed(string region)
    {
        var state = _owners.GetOrAdd(region, _ => new State());
        lock (state)
        {
            state.MissedHeartbeats++;
            DownAfter(state, region, state.MissedHeartbeats, "heartbeats");
        }
    }

    /// <summary>
    /// A heartbeat was answered: the count of missed ones starts again. It does not bring a down owner back: a node
    /// that answers may still be unable to serve its shards (its database lost); an answered forward does.
    /// </summary>
    public void HeartbeatAnswered(string region)
    {
        if (_owners.TryGetValue(region, out var state))
        {
            lock (state)
            {
                state.MissedHeartbeats = 0;
            }
        }
    }

    private void DownAfter(State state, string region, int failures, string what)
    {
        if (!state.Down && failures >= _options.OwnerDownAfterTimeouts)
        {
            state.Down = true;
            state.DownSince = Stopwatch.GetTimestamp();
            state.NextProbe = state.DownSince + (long)(_options.OwnerProbeInterval.TotalSeconds * Stopwatch.Frequency);
            LogDown(_logger, region, failures, what);
        }
    }

    private sealed class State
    {
        public int Failures;
        public int MissedHeartbeats;
        public bool Down;
        public long DownSince;
        public long NextProbe;
    }

    [LoggerMessage(EventId = 1400, Level = LogLevel.Error,
        Message = "Region {Region} left {Failures} {What} in a row unanswered; deemed down: its shards stood by for here are answered from their replica and journal")]
    private static partial void LogDown(ILogger logger, string region, int failures, string what);

    [LoggerMessage(EventId = 1401, Level = LogLevel.Information, Message = "Region {Region} answers again after {Seconds:F1} s; forwarding to it")]
    private static partial void LogUp(ILogger logger, string region, double seconds);
}
