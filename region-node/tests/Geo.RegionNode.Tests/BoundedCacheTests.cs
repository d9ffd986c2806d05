using System.Diagnostics.Metrics;
using Geo.Hosting.Telemetry;
using Geo.RegionNode.Caching;
using Geo.RegionNode.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Geo.RegionNode.Tests;

public sealed class BoundedCacheTests : IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly PrometheusExporter _exporter;
    private readonly Metrics _metrics;
    private readonly FakeTimeProvider _time = new();

    public BoundedCacheTests()
    {
        var meters = _services.GetRequiredService<IMeterFactory>();
        _exporter = new PrometheusExporter(meters);
        _metrics = new Metrics(meters);
    }

    [Fact]
    public void Set_PastCapacity_EvictsTheLeastRecentlyUsedOneByOne_AndCountsIt()
    {
        var cache = new BoundedCache<int, string>("test", 1_000, TimeSpan.FromHours(1), _time, _metrics);

        for (var i = 0; i < 10_000; i++)
        {
            cache.Set(i, $"value {i}");
        }

        Assert.InRange(cache.Count, 900, 1_000);
        Assert.True(cache.TryGet(9_999, out var newest));
        Assert.Equal("value 9999", newest);
        Assert.False(cache.TryGet(0, out _));
        var metrics = _exporter.Render();
        Assert.Contains("geo_cache_capacity_entries{cache=\"test\"} 1000\n", metrics, StringComparison.Ordinal);
        Assert.Contains($"geo_cache_entries{{cache=\"test\"}} {cache.Count}\n", metrics, StringComparison.Ordinal);
        Assert.Matches("geo_cache_evictions_total\\{cache=\"test\"\\} (9[0-9]{3})\n", metrics);
    }

    [Fact]
    public void TryGet_AfterItsLifetime_IsAMissAndFreesTheSlot()
    {
        var cache = new BoundedCache<string, int>("lifetime", 100, TimeSpan.FromSeconds(10), _time, _metrics);
        cache.Set("a", 1);
        cache.Set("b", 2, lifetime: TimeSpan.FromMinutes(5));

        _time.Advance(TimeSpan.FromSeconds(9));
        Assert.True(cache.TryGet("a", out _));
        _time.Advance(TimeSpan.FromSeconds(2));

        Assert.False(cache.TryGet("a", out _));
        Assert.True(cache.TryGet("b", out var b));
        Assert.Equal(2, b);
        Assert.Equal(1, cache.Count);
    }

    [Fact]
    public void Lookups_AreCountedByResult_WithTheHitRatio()
    {
        var cache = new BoundedCache<string, int>("ratio", 100, Timeout.InfiniteTimeSpan, _time, _metrics);
        cache.Set("present", 1);

        for (var i = 0; i < 3; i++)
        {
            cache.TryGet("present", out _);
        }

        cache.TryGet("absent", out _);

        var metrics = _exporter.Render();
        Assert.Contains("geo_cache_lookups_total{cache=\"ratio\",result=\"hit\"} 3\n", metrics, StringComparison.Ordinal);
        Assert.Contains("geo_cache_lookups_total{cache=\"ratio\",result=\"miss\"} 1\n", metrics, StringComparison.Ordinal);
        Assert.Equal(0.75, cache.HitRatio);
        Assert.Contains("geo_cache_hit_ratio{cache=\"ratio\"} 0.75\n", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public void Remove_ForgetsTheEntry()
    {
        var cache = new BoundedCache<string, int>("remove", 100, Timeout.InfiniteTimeSpan, _time, _metrics);
        cache.Set("a", 1);

        cache.Remove("a");

        Assert.False(cache.TryGet("a", out _));
    }

    public void Dispose()
    {
        _exporter.Dispose();
        _services.Dispose();
    }
}
