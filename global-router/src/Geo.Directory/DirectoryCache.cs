using Geo.Directory.Placement;
using Geo.Directory.Shards;
using Microsoft.Extensions.Logging;

namespace Geo.Directory;

/// <summary>
/// Keeps the process's <see cref="DirectorySnapshot"/> current from the store's change feed, so a change is visible
/// within milliseconds of its commit; a broken feed is reopened with backoff and followed by a full reload, so nothing
/// missed stays missed. <see cref="Current"/> is read without locks.
/// </summary>
public sealed partial class DirectoryCache : IAsyncDisposable
{
    private readonly IDirectoryStore _store;
    private readonly ILogger<DirectoryCache> _logger;
    private readonly TimeProvider _time;
    private readonly DirectoryCacheOptions _options;
    private readonly SemaphoreSlim _loadGate = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private DirectorySnapshot _current = DirectorySnapshot.Empty;
    private long _loadsStarted;
    private long _loadsCompleted;
    private Task? _loop;
    private volatile bool _connected;

    /// <summary>A cache over <paramref name="store"/>; call <see cref="StartAsync"/> before use.</summary>
    public DirectoryCache(IDirectoryStore store, ILogger<DirectoryCache> logger, TimeProvider? time = null, DirectoryCacheOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(logger);
        _store = store;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _options = options ?? new DirectoryCacheOptions();
    }

    /// <summary>The current snapshot (empty until the first load).</summary>
    public DirectorySnapshot Current => Volatile.Read(ref _current);

    /// <summary>Whether the change feed is open (false while reconnecting: the snapshot may be behind).</summary>
    public bool IsConnected => _connected;

    /// <summary>The store behind the cache.</summary>
    public IDirectoryStore Store => _store;

    /// <summary>Raised after each new snapshot is published (on the cache's own task: handlers must be quick).</summary>
    public event EventHandler<DirectorySnapshot>? SnapshotPublished;

    /// <summary>Opens the change feed and loads everything once (throws when the store is unreachable), then follows changes in the background.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_loop is not null)
        {
            throw new InvalidOperationException("the directory cache is started already");
        }

        var watch = await _store.WatchAsync(cancellationToken);
        try
        {
            await LoadAllAsync(cancellationToken);
        }
        catch
        {
            await watch.DisposeAsync();
            throw;
        }

        _connected = true;
        _loop = Task.Run(() => FollowAsync(watch, _stopping.Token), CancellationToken.None);
    }

    /// <summary>
    /// Reloads the control plane now (a region answered that the snapshot's epoch is stale). Callers that
    /// arrive while a reload runs share the next one rather than queueing one each.
    /// </summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        var seen = Interlocked.Read(ref _loadsStarted);
        await _loadGate.WaitAsync(cancellationToken);
        try
        {
            // A load that started after this call and finished since is as fresh as the one we would run.
            if (Interlocked.Read(ref _loadsCompleted) > seen)
            {
                return;
            }

            await LoadControlPlaneLockedAsync(cancellationToken);
        }
        finally
        {
            _loadGate.Release();
        }
    }

    /// <summary>
    /// A subscriber's home region: from memory, else read through to the store (a placement another process
    /// wrote a moment ago whose change has not arrived yet). Null when the subscriber is placed nowhere.
    /// </summary>
    public async ValueTask<string?> FindHomeRegionAsync(string tenantId, string username, CancellationToken cancellationToken)
    {
        var placements = Current.Placements;
        if (placements.TryGetHomeRegion(tenantId, username, out var home))
        {
            return home;
        }

        if (username.Length is 0 or > 253)
        {
            return null;
        }

        var placement = await _store.GetPlacementAsync(tenantId, username, cancellationToken);
        if (placement is null)
        {
            return null;
        }

        if (_options.Placements)
        {
            placements.Set(placement.TenantId, placement.Username, placement.HomeRegion);
        }

        return placement.HomeRegion;
    }

    /// <summary>The shard a subscriber lives in (see <see cref="FindHomeRegionAsync"/>); null when unknown.</summary>
    public async ValueTask<Shard?> FindShardAsync(string tenantId, string username, CancellationToken cancellationToken)
    {
        var home = await FindHomeRegionAsync(tenantId, username, cancellationToken);
        return home is not null && Current.TryGetShard(new ShardKey(tenantId, home), out var shard) ? shard : null;
    }

    /// <summary>Records a placement this process just wrote, so that its own next lookup finds it at once.</summary>
    public void RememberPlacement(SubscriberPlacement placement)
    {
        ArgumentNullException.ThrowIfNull(placement);
        Current.Placements.Set(placement.TenantId, placement.Username, placement.HomeRegion);
    }

    /// <summary>Stops following changes.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        if (_loop is not null)
        {
            await _loop;
        }

        _stopping.Dispose();
        _loadGate.Dispose();
    }

    private async Task FollowAsync(IDirectoryWatch? watch, CancellationToken cancellationToken)
    {
        var backoff = _options.ReconnectMinDelay;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (watch is null)
                {
                    watch = await _store.WatchAsync(cancellationToken);
                    await LoadAllAsync(cancellationToken);
                    _connected = true;
                    backoff = _options.ReconnectMinDelay;
                    LogReconnected(Current.Version);
                }

                var change = await watch.WaitAsync(cancellationToken);
                await ApplyAsync(change, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                _connected = false;
                LogFeedFailed(ex, backoff.TotalMilliseconds);
                if (watch is not null)
                {
                    await DisposeQuietlyAsync(watch);
                    watch = null;
                }

                try
                {
                    await Task.Delay(backoff, _time, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, _options.ReconnectMaxDelay.Ticks));
            }
        }

        _connected = false;
        if (watch is not null)
        {
            await DisposeQuietlyAsync(watch);
        }
    }

    private async Task ApplyAsync(DirectoryChange change, CancellationToken cancellationToken)
    {
        if (!_options.Placements)
        {
            // A process that serves no subscriber lookups keeps no placements.
        }
        else if (change.PlacementsReset)
        {
            await _loadGate.WaitAsync(cancellationToken);
            try
            {
                await LoadPlacementsLockedAsync(cancellationToken);
            }
            finally
            {
                _loadGate.Release();
            }
        }
        else
        {
            var placements = Current.Placements;
            foreach (var placement in change.Placements)
            {
                placements.Apply(placement);
            }
        }

        if (change.ControlPlane)
        {
            await RefreshAsync(cancellationToken);
        }
    }

    private async Task LoadAllAsync(CancellationToken cancellationToken)
    {
        await _loadGate.WaitAsync(cancellationToken);
        try
        {
            if (_options.Placements)
            {
                await LoadPlacementsLockedAsync(cancellationToken);
            }

            await LoadControlPlaneLockedAsync(cancellationToken);
        }
        finally
        {
            _loadGate.Release();
        }
    }

    private async Task LoadControlPlaneLockedAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _loadsStarted);
        var data = await _store.LoadAsync(cancellationToken);
        Publish(new DirectorySnapshot(data, Current.Placements, Current.Version + 1));
        Interlocked.Increment(ref _loadsCompleted);
    }

    private async Task LoadPlacementsLockedAsync(CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        var placements = new PlacementIndex();
        await _store.LoadPlacementsAsync(placements, cancellationToken);
        Publish(new DirectorySnapshot(Current.Data, placements, Current.Version + 1));
        var elapsed = _time.GetElapsedTime(started);
        LogPlacementsLoaded(placements.Count, elapsed.TotalMilliseconds);
    }

    private void Publish(DirectorySnapshot snapshot)
    {
        Volatile.Write(ref _current, snapshot);
        LogPublished(snapshot.Version, snapshot.Regions.Count, snapshot.Shards.Count);
        SnapshotPublished?.Invoke(this, snapshot);
    }

    private async Task DisposeQuietlyAsync(IDirectoryWatch watch)
    {
        try
        {
            await watch.DisposeAsync();
        }
        catch (Exception ex)
        {
            LogFeedCloseFailed(ex);
        }
    }

    [LoggerMessage(EventId = 3001, Level = LogLevel.Debug, Message = "Directory snapshot {Version} published: {Regions} regions, {Shards} shards")]
    private partial void LogPublished(long version, int regions, int shards);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Information, Message = "Directory placements loaded: {Count} in {Milliseconds:F0} ms")]
    private partial void LogPlacementsLoaded(long count, double milliseconds);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Warning, Message = "Directory change feed failed; reconnecting in {DelayMs:F0} ms")]
    private partial void LogFeedFailed(Exception exception, double delayMs);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Information, Message = "Directory change feed reopened and reloaded (snapshot {Version})")]
    private partial void LogReconnected(long version);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Debug, Message = "Closing a broken directory change feed failed")]
    private partial void LogFeedCloseFailed(Exception exception);
}

/// <summary>How a <see cref="DirectoryCache"/> reconnects.</summary>
public sealed record DirectoryCacheOptions
{
    /// <summary>First wait after the change feed broke.</summary>
    public TimeSpan ReconnectMinDelay { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Longest wait between reconnect attempts (the wait doubles up to it).</summary>
    public TimeSpan ReconnectMaxDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Whether the cache loads and follows subscriber placements (the router's lookups). Region nodes, the replicator
    /// and geoctl follow only the control plane: with false, <see cref="DirectoryCache.FindHomeRegionAsync"/> reads
    /// through to the store each time.
    /// </summary>
    public bool Placements { get; init; } = true;
}
