using System.Collections.Frozen;
using Geo.Provisioning;
using Geo.Router.Hosting;

namespace Geo.Router.Console;

/// <summary>One shard as last sampled: subscribers, replication to its standby, and its lag over the last minutes.</summary>
internal sealed record ShardSample(long? Subscribers, bool? Streaming, long? LagBytes, double? LagSeconds, string? Error, IReadOnlyList<double?> LagHistory);

/// <summary>
/// Samples every shard's replication lag (every <see cref="Interval"/>) and subscribers (every <see cref="CountEvery"/>
/// samples) for the console's overview and its lag charts, keeping <see cref="HistoryLength"/> samples. It reads the
/// regions' databases, so it samples only while someone looks at the console (an overview asked for in the last minute).
/// </summary>
internal sealed partial class ShardSampler(TenantAdmin admin, TimeProvider time, ILogger<ShardSampler> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);
    public const int HistoryLength = 120;
    public const int CountEvery = 12;
    private static readonly TimeSpan Idle = TimeSpan.FromMinutes(1);

    private volatile FrozenDictionary<string, ShardSample> _samples = FrozenDictionary<string, ShardSample>.Empty;
    private long _lastLookTicks;

    /// <summary>The latest samples by shard (<c>tenant@home</c>); empty until the first one.</summary>
    public IReadOnlyDictionary<string, ShardSample> Samples => _samples;

    /// <summary>Someone looks at the console: keep sampling for another minute.</summary>
    public void Look() => Interlocked.Exchange(ref _lastLookTicks, time.GetUtcNow().UtcTicks);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!admin.Enabled)
        {
            return;
        }

        var samples = 0;
        using var timer = new PeriodicTimer(Interval, time);
        do
        {
            if (time.GetUtcNow().UtcTicks - Interlocked.Read(ref _lastLookTicks) > Idle.Ticks)
            {
                samples = 0;
                continue;
            }

            try
            {
                await SampleAsync(countSubscribers: samples++ % CountEvery == 0, stoppingToken);
            }
            catch (Exception ex) when (ex is Npgsql.NpgsqlException or Directory.DirectoryStoreException or TimeoutException or ProvisioningException)
            {
                LogSampleFailed(logger, ex.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    private async Task SampleAsync(bool countSubscribers, CancellationToken cancellationToken)
    {
        var reports = await admin.Reports().ReadAsync(null, cancellationToken, countSubscribers);
        var previous = _samples;
        var next = new Dictionary<string, ShardSample>(StringComparer.Ordinal);
        foreach (var report in reports.SelectMany(t => t.Shards))
        {
            var key = report.Shard.Key.ToString();
            var before = previous.GetValueOrDefault(key);
            var history = (before?.LagHistory ?? []).Append(report.LagSeconds).TakeLast(HistoryLength).ToList();
            next[key] = new ShardSample(report.Subscribers ?? before?.Subscribers, report.SlotActive, report.LagBytes, report.LagSeconds, report.Error, history);
        }

        _samples = next.ToFrozenDictionary(StringComparer.Ordinal);
    }

    [LoggerMessage(EventId = 3400, Level = LogLevel.Warning, Message = "console: sampling the shards' replication failed: {Reason}")]
    private static partial void LogSampleFailed(ILogger logger, string reason);
}
