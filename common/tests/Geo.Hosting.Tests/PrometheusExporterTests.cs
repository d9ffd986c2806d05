using System.Diagnostics.Metrics;
using Geo.Hosting.Telemetry;
using Microsoft.Extensions.DependencyInjection;

namespace Geo.Hosting.Tests;

public sealed class PrometheusExporterTests
{
    private static readonly KeyValuePair<string, object?> Access = new("type", "access");
    private static readonly KeyValuePair<string, object?> Accept = new("result", "accept");

    [Fact]
    public void Render_TwoHostsWithSameMeterName_EachReportsOnlyItsOwn()
    {
        using var one = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var two = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var exportOne = new PrometheusExporter(one.GetRequiredService<IMeterFactory>());
        using var exportTwo = new PrometheusExporter(two.GetRequiredService<IMeterFactory>());

        one.GetRequiredService<IMeterFactory>().Create("Geo.Test").CreateCounter<long>("geo_requests_total", description: "Requests").Add(5, Access, Accept);
        two.GetRequiredService<IMeterFactory>().Create("Geo.Test").CreateCounter<long>("geo_requests_total", description: "Requests").Add(7, Access, Accept);

        Assert.Contains("geo_requests_total{type=\"access\",result=\"accept\"} 5\n", exportOne.Render(), StringComparison.Ordinal);
        Assert.Contains("geo_requests_total{type=\"access\",result=\"accept\"} 7\n", exportTwo.Render(), StringComparison.Ordinal);
    }

    [Fact]
    public void Render_MeterOutsideTheFactory_IsNotReported()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var exporter = new PrometheusExporter(services.GetRequiredService<IMeterFactory>());
        using var stray = new Meter("Geo.Stray");

        stray.CreateCounter<long>("geo_stray_total").Add(1);

        Assert.DoesNotContain("geo_stray_total", exporter.Render(), StringComparison.Ordinal);
    }

    [Fact]
    public void Render_Histogram_CumulativeBucketsFromAdviceSumAndCount()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meters = services.GetRequiredService<IMeterFactory>();
        using var exporter = new PrometheusExporter(meters);
        var histogram = meters.Create("Geo.Test").CreateHistogram("geo_duration_seconds", unit: null, description: "Duration", tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.3, 1, 5] });

        histogram.Record(0.25, Access);
        histogram.Record(0.5, Access);
        histogram.Record(1, Access);
        histogram.Record(8, Access);
        var text = exporter.Render();

        Assert.Contains("# TYPE geo_duration_seconds histogram\n", text, StringComparison.Ordinal);
        Assert.Contains("geo_duration_seconds_bucket{type=\"access\",le=\"0.3\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("geo_duration_seconds_bucket{type=\"access\",le=\"1\"} 3\n", text, StringComparison.Ordinal);
        Assert.Contains("geo_duration_seconds_bucket{type=\"access\",le=\"5\"} 3\n", text, StringComparison.Ordinal);
        Assert.Contains("geo_duration_seconds_bucket{type=\"access\",le=\"+Inf\"} 4\n", text, StringComparison.Ordinal);
        Assert.Contains("geo_duration_seconds_sum{type=\"access\"} 9.75\n", text, StringComparison.Ordinal);
        Assert.Contains("geo_duration_seconds_count{type=\"access\"} 4\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_ObservableSeriesNoLongerReported_Disappears()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meters = services.GetRequiredService<IMeterFactory>();
        using var exporter = new PrometheusExporter(meters);
        var shards = new List<string> { "acme@a", "zenith@a" };
        meters.Create("Geo.Test").CreateObservableGauge("geo_lag_seconds",
            () => shards.Select(s => new Measurement<double>(0.5, new KeyValuePair<string, object?>("shard", s))), description: "Lag");

        var before = exporter.Render();
        shards.Remove("zenith@a");
        var after = exporter.Render();

        Assert.Contains("geo_lag_seconds{shard=\"zenith@a\"} 0.5\n", before, StringComparison.Ordinal);
        Assert.Contains("geo_lag_seconds{shard=\"acme@a\"} 0.5\n", after, StringComparison.Ordinal);
        Assert.DoesNotContain("zenith", after, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_LabelValueWithQuoteAndNaNGauge_EscapedAndSpelled()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meters = services.GetRequiredService<IMeterFactory>();
        using var exporter = new PrometheusExporter(meters);
        meters.Create("Geo.Test").CreateObservableGauge("geo_value", () => new Measurement<double>(double.NaN, new KeyValuePair<string, object?>("shard", "zen\"ith")));

        Assert.Contains("geo_value{shard=\"zen\\\"ith\"} NaN\n", exporter.Render(), StringComparison.Ordinal);
    }
}
