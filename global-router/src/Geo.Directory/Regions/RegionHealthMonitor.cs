using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Geo.Directory.Regions;

/// <summary>
/// Health of every region: active checks (<c>GET {api_url}/health/ready</c>), passive reports (a failed connect marks it down
/// at once) and the store's own checks. A down region returns only on a passing active check; unchecked regions count as
/// available, so a fresh process routes at once.
/// </summary>
public sealed partial class RegionHealthMonitor : IAsyncDisposable
{
    private readonly DirectoryCache _cache;
    private readonly RegionHealthOptions _options;
    private readonly ILogger<RegionHealthMonitor> _logger;
    private readonly TimeProvider _time;
    private readonly HttpClient _client;
    private readonly ConcurrentDictionary<string, RegionState> _regions = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private Task? _loop;

    /// <summary>A monitor of the regions in <paramref name="cache"/>; call <see cref="Start"/> to run active checks.</summary>
    public RegionHealthMonitor(DirectoryCache cache, RegionHealthOptions options, ILogger<RegionHealthMonitor> logger, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(cache);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        _cache = cache;
        _options = options;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _client = new HttpClient(new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            ConnectTimeout = options.Timeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(1),
        })
        {
            Timeout = options.Timeout,
        };
    }

    /// <summary>Raised when a region's health changes (on the checking task: handlers must be quick).</summary>
    public event EventHandler<RegionHealthChangedEventArgs>? HealthChanged;

    /// <summary>Starts the active checks.</summary>
    public void Start()
    {
        if (_loop is not null)
        {
            throw new InvalidOperationException("the health monitor is started already");
        }

        _loop = Task.Run(() => RunAsync(_stopping.Token), CancellationToken.None);
    }

    /// <summary>The region's health: down when the store or this process's checks say so.</summary>
    public RegionHealth HealthOf(string regionId)
    {
        if (_cache.Current.StoreHealthOf(regionId) == RegionHealth.Down)
        {
            return RegionHealth.Down;
        }

        return _regions.TryGetValue(regionId, out var state) ? state.Health : RegionHealth.Unknown;
    }

    /// <summary>Whether requests may be sent to the region now.</summary>
    public bool IsAvailable(string regionId) => HealthOf(regionId) != RegionHealth.Down;

    /// <summary>A passive failure: a request to the region could not connect. Marks it down at once.</summary>
    public void ReportUnreachable(string regionId) => Set(regionId, RegionHealth.Down, "request could not connect");

    /// <summary>Runs one round of active checks (the loop does this on every interval).</summary>
    public async Task CheckAllAsync(CancellationToken cancellationToken)
    {
        var regions = _cache.Current.Regions;
        var checks = new Task[regions.Count];
        for (var i = 0; i < regions.Count; i++)
        {
            checks[i] = CheckAsync(regions[i], cancellationToken);
        }

        await Task.WhenAll(checks);
    }

    /// <summary>Stops the active checks.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        if (_loop is not null)
        {
            await _loop;
        }

        _client.Dispose();
        _stopping.Dispose();
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.Interval, _time);
        try
        {
            do
            {
                await CheckAllAsync(cancellationToken);
            }
            while (await timer.WaitForNextTickAsync(cancellationToken));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    private async Task CheckAsync(Region region, CancellationToken cancellationToken)
    {
        var url = new Uri(region.ApiUrl.AbsoluteUri.TrimEnd('/') + _options.Path);
        string? failure;
        var refused = false;
        try
        {
            using var response = await _client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            failure = response.IsSuccessStatusCode ? null : $"health check answered {(int)response.StatusCode}";
        }
        catch (HttpRequestException ex)
        {
            // A refused connection is certain (nothing listens); a slow or failing answer may pass, so it needs a streak.
            refused = ex.HttpRequestError == HttpRequestError.ConnectionError;
            failure = $"health check failed: {ex.HttpRequestError}";
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            failure = "health check timed out";
        }

        var state = _regions.GetOrAdd(region.Id, _ => new RegionState());
        if (failure is null)
        {
            state.ConsecutiveFailures = 0;
            Set(region.Id, RegionHealth.Healthy, "health check passed");
        }
        else if (++state.ConsecutiveFailures >= _options.UnhealthyThreshold || refused)
        {
            Set(region.Id, RegionHealth.Down, failure);
        }
    }

    private void Set(string regionId, RegionHealth health, string reason)
    {
        var state = _regions.GetOrAdd(regionId, _ => new RegionState());
        var previous = state.Exchange(health);
        if (previous == health)
        {
            return;
        }

        if (health == RegionHealth.Down)
        {
            LogRegionDown(regionId, reason);
        }
        else
        {
            LogRegionUp(regionId, reason);
        }

        HealthChanged?.Invoke(this, new RegionHealthChangedEventArgs(regionId, previous, health));
    }

    [LoggerMessage(EventId = 3101, Level = LogLevel.Warning, Message = "Region {Region} is down: {Reason}")]
    private partial void LogRegionDown(string region, string reason);

    [LoggerMessage(EventId = 3102, Level = LogLevel.Information, Message = "Region {Region} is up: {Reason}")]
    private partial void LogRegionUp(string region, string reason);

    private sealed class RegionState
    {
        private int _health = (int)RegionHealth.Unknown;

        public RegionHealth Health => (RegionHealth)Volatile.Read(ref _health);

        public int ConsecutiveFailures { get; set; }

        public RegionHealth Exchange(RegionHealth health) => (RegionHealth)Interlocked.Exchange(ref _health, (int)health);
    }
}

/// <summary>How regions are checked.</summary>
public sealed record RegionHealthOptions
{
    /// <summary>Time between active checks.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How long a check (connect and answer) may take before it counts as failed.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Failed active checks in a row that mark a region down (a refused connection marks it down at once).</summary>
    public int UnhealthyThreshold { get; init; } = 2;

    /// <summary>The readiness path of a region's API.</summary>
    public string Path { get; init; } = "/health/ready";
}

/// <summary>A region's health changed.</summary>
public sealed class RegionHealthChangedEventArgs(string regionId, RegionHealth previous, RegionHealth current) : EventArgs
{
    /// <summary>The region.</summary>
    public string RegionId { get; } = regionId;

    /// <summary>Its health before.</summary>
    public RegionHealth Previous { get; } = previous;

    /// <summary>Its health now.</summary>
    public RegionHealth Current { get; } = current;
}
