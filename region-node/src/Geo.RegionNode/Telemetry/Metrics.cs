using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace Geo.RegionNode.Telemetry;

/// <summary>
/// The node's counters, gauges and histograms, rendered in the Prometheus text format on <c>/metrics</c>.
/// Lock-free on the hot path: one Interlocked operation per observation.
/// </summary>
internal sealed class Metrics
{
    private readonly ConcurrentDictionary<string, Counter> _counters = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Histogram> _histograms = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Func<double>> _gauges = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _help = new(StringComparer.Ordinal);

    public Metrics()
    {
        // The runtime's own: garbage-collection pauses show up in the request latency tail.
        for (var generation = 0; generation <= 2; generation++)
        {
            var g = generation;
            Gauge("geo_dotnet_gc_collections", "Garbage collections since start, by generation", () => GC.CollectionCount(g), $"generation=\"{g}\"");
        }

        Gauge("geo_dotnet_gc_pause_seconds", "Time the process was paused for garbage collection since start", () => GC.GetTotalPauseDuration().TotalSeconds);
        Gauge("geo_dotnet_heap_bytes", "Managed heap size", () => GC.GetGCMemoryInfo().HeapSizeBytes);
    }

    /// <summary>A counter for a name and a label set such as <c>type="access",result="accept"</c>.</summary>
    public Counter Counter(string name, string help, string labels = "")
    {
        Describe(name, help);
        return _counters.GetOrAdd(Key(name, labels), _ => new Counter());
    }

    public Histogram Histogram(string name, string help, double[] bounds, string labels = "")
    {
        Describe(name, help);
        return _histograms.GetOrAdd(Key(name, labels), _ => new Histogram(bounds));
    }

    public void Gauge(string name, string help, Func<double> read, string labels = "")
    {
        Describe(name, help);
        _gauges[Key(name, labels)] = read;
    }

    public string Render()
    {
        var text = new StringBuilder();
        foreach (var group in _counters.GroupBy(c => NameOf(c.Key)).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            Header(text, group.Key, "counter");
            foreach (var (key, counter) in group.OrderBy(c => c.Key, StringComparer.Ordinal))
            {
                text.Append(key).Append(' ').Append(counter.Value.ToString(CultureInfo.InvariantCulture)).Append('\n');
            }
        }

        foreach (var group in _gauges.GroupBy(g => NameOf(g.Key)).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            Header(text, group.Key, "gauge");
            foreach (var (key, read) in group.OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                text.Append(key).Append(' ').Append(read().ToString(CultureInfo.InvariantCulture)).Append('\n');
            }
        }

        foreach (var group in _histograms.GroupBy(h => NameOf(h.Key)).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            Header(text, group.Key, "histogram");
            foreach (var (key, histogram) in group.OrderBy(h => h.Key, StringComparer.Ordinal))
            {
                histogram.Render(text, group.Key, LabelsOf(key));
            }
        }

        return text.ToString();
    }

    private void Describe(string name, string help)
    {
        lock (_help)
        {
            _help.TryAdd(name, help);
        }
    }

    private void Header(StringBuilder text, string name, string type)
    {
        lock (_help)
        {
            text.Append("# HELP ").Append(name).Append(' ').Append(_help.GetValueOrDefault(name, name)).Append('\n');
        }

        text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
    }

    private static string Key(string name, string labels) => labels.Length == 0 ? name : $"{name}{{{labels}}}";

    private static string NameOf(string key) => key.IndexOf('{', StringComparison.Ordinal) is var i and >= 0 ? key[..i] : key;

    private static string LabelsOf(string key) => key.IndexOf('{', StringComparison.Ordinal) is var i and >= 0 ? key[(i + 1)..^1] : "";
}

internal sealed class Counter
{
    private long _value;

    public long Value => Interlocked.Read(ref _value);

    public void Increment() => Interlocked.Increment(ref _value);

    public void Add(long amount) => Interlocked.Add(ref _value, amount);
}

/// <summary>A cumulative histogram with fixed upper bounds.</summary>
internal sealed class Histogram(double[] bounds)
{
    /// <summary>Latency buckets in seconds, 100 µs to 5 s.</summary>
    public static readonly double[] LatencyBounds = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

    /// <summary>Batch-size buckets.</summary>
    public static readonly double[] SizeBounds = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000];

    private readonly long[] _buckets = new long[bounds.Length + 1];
    private long _count;
    private long _sumMicros;

    public void Observe(double value)
    {
        var index = Array.BinarySearch(bounds, value);
        Interlocked.Increment(ref _buckets[index < 0 ? ~index : index]);
        Interlocked.Increment(ref _count);
        Interlocked.Add(ref _sumMicros, (long)(value * 1_000_000));
    }

    public void Render(StringBuilder text, string name, string labels)
    {
        var prefix = labels.Length == 0 ? "" : labels + ",";
        long cumulative = 0;
        for (var i = 0; i < bounds.Length; i++)
        {
            cumulative += Interlocked.Read(ref _buckets[i]);
            text.Append(name).Append("_bucket{").Append(prefix).Append("le=\"").Append(bounds[i].ToString(CultureInfo.InvariantCulture)).Append("\"} ")
                .Append(cumulative.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }

        var count = Interlocked.Read(ref _count);
        var braces = labels.Length == 0 ? "" : "{" + labels + "}";
        text.Append(name).Append("_bucket{").Append(prefix).Append("le=\"+Inf\"} ").Append(count.ToString(CultureInfo.InvariantCulture)).Append('\n');
        text.Append(name).Append("_sum").Append(braces).Append(' ').Append((Interlocked.Read(ref _sumMicros) / 1_000_000.0).ToString(CultureInfo.InvariantCulture)).Append('\n');
        text.Append(name).Append("_count").Append(braces).Append(' ').Append(count.ToString(CultureInfo.InvariantCulture)).Append('\n');
    }
}
