using System.Threading.Channels;
using Geo.Directory;
using Geo.Directory.Stores.Postgres;
using Geo.Replication.Hosting;
using Geo.Schema;
using Microsoft.Extensions.Logging;

namespace Geo.Replication.Discovery;

/// <summary>
/// Follows the directory for the shards this region stands by for, through the shared directory client: a
/// <see cref="DirectoryCache"/> over the store (one change feed with keep-alive and reconnect, control plane only), read again
/// every <see cref="ReplicatorDirectoryOptions.RefreshInterval"/> as a safety net. While the directory is unreachable the
/// running streams stay as they are.
/// </summary>
internal sealed partial class ShardDiscovery
{
    private static readonly TimeSpan FailureLogInterval = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    private readonly string _region;
    private readonly TimeSpan _refreshInterval;
    private readonly PlatformDatabases _servers;
    private readonly Func<IDirectoryStore> _createStore;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();

    // Guarded by _gate: the start loop and the refresh both report.
    private DateTimeOffset? _unreachableSince;
    private DateTimeOffset _lastFailureLog;
    private int _suppressedFailures;

    /// <summary>Discovery from <paramref name="options"/>' directory; <paramref name="createStore"/> replaces its PostgreSQL store (tests, Consul).</summary>
    public ShardDiscovery(ReplicatorOptions options, TimeProvider time, ILoggerFactory loggerFactory, Func<IDirectoryStore>? createStore = null)
    {
        var directory = options.Directory;
        var connectionString = directory.ConnectionString ?? throw new ArgumentException("Replication:Directory:ConnectionString is not set", nameof(options));
        _region = options.Region;
        _refreshInterval = directory.RefreshInterval;
        _servers = new PlatformDatabases(connectionString, new Dictionary<string, string>(directory.Servers, StringComparer.Ordinal));
        _createStore = createStore ?? (() => new PostgresDirectoryStore(connectionString));
        _time = time;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<ShardDiscovery>();
    }

    /// <summary>Since when the directory could not be read or followed; null while it can.</summary>
    public DateTimeOffset? UnreachableSince
    {
        get
        {
            lock (_gate)
            {
                return _unreachableSince;
            }
        }
    }

    /// <summary>Calls <paramref name="apply"/> with the wanted streams after every snapshot of the directory, until cancelled.</summary>
    public async Task RunAsync(Func<IReadOnlyList<DiscoveredShard>, CancellationToken, Task> apply, CancellationToken cancellationToken)
    {
        await using var store = _createStore();
        await using var cache = new DirectoryCache(store, _loggerFactory.CreateLogger<DirectoryCache>(), _time,
            new DirectoryCacheOptions { Placements = false, ReconnectMaxDelay = MaxBackoff });
        // One pending signal is enough: the snapshot read after it holds every change published before it.
        var changes = Channel.CreateBounded<bool>(new BoundedChannelOptions(1)
        {
            FullMode = BoundedChannelFullMode.DropWrite,
            SingleReader = true,
        });
        cache.SnapshotPublished += (_, _) => changes.Writer.TryWrite(true);
        try
        {
            await StartAsync(cache, cancellationToken);
            while (true)
            {
                while (changes.Reader.TryRead(out _))
                {
                }

                await apply(DiscoveryPlan.Desired(DiscoveryPlan.StandbyShards(cache.Current.Shards, _region), _region, _servers), cancellationToken);
                if (!await WaitForChangeAsync(changes.Reader, cancellationToken))
                {
                    await RefreshAsync(cache, cancellationToken);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Opens the cache's change feed and loads the directory, retrying with backoff until it can.</summary>
    private async Task StartAsync(DirectoryCache cache, CancellationToken cancellationToken)
    {
        var backoff = TimeSpan.FromSeconds(1);
        while (true)
        {
            try
            {
                await cache.StartAsync(cancellationToken);
                ReportReachable();
                return;
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                ReportUnreachable(ex);
            }

            await Task.Delay(backoff, _time, cancellationToken);
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
        }
    }

    /// <summary>The safety net: reads the directory again (a change whose notification was lost) and says whether it is followed.</summary>
    private async Task RefreshAsync(DirectoryCache cache, CancellationToken cancellationToken)
    {
        try
        {
            await cache.RefreshAsync(cancellationToken);
            if (cache.IsConnected)
            {
                ReportReachable();
            }
            else
            {
                // Readable, but the change feed is down (the cache logs why and reconnects it with backoff): changes arrive late.
                ReportUnreachable(null);
            }
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            // Keep the running streams: an unreachable directory says nothing about the shards.
            ReportUnreachable(ex);
        }
    }

    /// <summary>True when a new snapshot was published, false when the refresh interval passed first.</summary>
    private async Task<bool> WaitForChangeAsync(ChannelReader<bool> changes, CancellationToken cancellationToken)
    {
        using var poll = new CancellationTokenSource(_refreshInterval, _time);
        using var either = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, poll.Token);
        try
        {
            return await changes.WaitToReadAsync(either.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    private void ReportUnreachable(Exception? exception)
    {
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            if (_unreachableSince is not null && now - _lastFailureLog < FailureLogInterval)
            {
                _suppressedFailures++;
                return;
            }

            _unreachableSince ??= now;
            LogDirectoryUnreachable(_logger, _suppressedFailures, exception);
            _lastFailureLog = now;
            _suppressedFailures = 0;
        }
    }

    private void ReportReachable()
    {
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            if (_unreachableSince is { } since)
            {
                LogDirectoryReachable(_logger, (now - since).TotalSeconds);
                _unreachableSince = null;
                _suppressedFailures = 0;
            }
        }
    }

    [LoggerMessage(EventId = 4601, Level = LogLevel.Warning,
        Message = "Directory unreachable; keeping the current streams and retrying ({Suppressed} further failures were not logged since the last report)")]
    private static partial void LogDirectoryUnreachable(ILogger logger, int suppressed, Exception? exception);

    [LoggerMessage(EventId = 4602, Level = LogLevel.Information, Message = "Directory reachable again after {Seconds:F0} s")]
    private static partial void LogDirectoryReachable(ILogger logger, double seconds);
}
