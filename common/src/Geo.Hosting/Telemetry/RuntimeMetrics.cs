using System.Diagnostics.Metrics;

namespace Geo.Hosting.Telemetry;

/// <summary>The runtime's own figures every service reports: garbage-collection pauses show up in the latency tail.</summary>
internal static class RuntimeMetrics
{
    public static Meter Create(IMeterFactory meters)
    {
        var meter = meters.Create("Geo.Runtime");
        meter.CreateObservableGauge("geo_dotnet_gc_collections", () => new[]
        {
            new Measurement<long>(GC.CollectionCount(0), new KeyValuePair<string, object?>("generation", "0")),
            new Measurement<long>(GC.CollectionCount(1), new KeyValuePair<string, object?>("generation", "1")),
            new Measurement<long>(GC.CollectionCount(2), new KeyValuePair<string, object?>("generation", "2")),
        }, description: "Garbage collections since start, by generation");
        meter.CreateObservableGauge("geo_dotnet_gc_pause_seconds", () => GC.GetTotalPauseDuration().TotalSeconds,
            description: "Time the process was paused for garbage collection since start");
        meter.CreateObservableGauge("geo_dotnet_heap_bytes", () => GC.GetGCMemoryInfo().HeapSizeBytes, description: "Managed heap size");
        return meter;
    }
}
