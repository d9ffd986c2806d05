using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Geo.RegionNode.Telemetry;

/// <summary>
/// The node's instruments on its host's meter (<c>Geo.RegionNode</c>), served on <c>/metrics</c> by Geo.Hosting's
/// exporter. Callers get a handle per name and label set once (<c>type="access",result="accept"</c>) and keep it, so
/// the hot path pays one instrument call with tags prepared in advance.
/// </summary>
internal sealed class Metrics
{
    private readonly Meter _meter;
    private readonly ConcurrentDictionary<string, Counter<long>> _counters = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Histogram<double>> _histograms = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ObservedFamily> _gauges = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ObservedFamily> _observedCounters = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Name, string Labels), Counter> _counterHandles = new();
    private readonly ConcurrentDictionary<(string Name, string Labels), Histogram> _histogramHandles = new();

    public Metrics(IMeterFactory meters) => _meter = meters.Create("Geo.RegionNode");

    /// <summary>A counter for a name and a label set such as <c>type="access",result="accept"</c>, reported from 0 on.</summary>
    public Counter Counter(string name, string help, string labels = "") =>
        _counterHandles.GetOrAdd((name, labels), key =>
        {
            var counter = new Counter(_counters.GetOrAdd(key.Name, n => _meter.CreateCounter<long>(n, description: help)), Tags(key.Labels));
            counter.Add(0);
            return counter;
        });

    public Histogram Histogram(string name, string help, double[] bounds, string labels = "") =>
        _histogramHandles.GetOrAdd((name, labels), key => new Histogram(
            _histograms.GetOrAdd(key.Name, n => _meter.CreateHistogram(n, unit: null, description: help, tags: null,
                advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = bounds })),
            Tags(key.Labels)));

    /// <summary>A gauge read at each scrape; a later registration of the same name and labels replaces the earlier.</summary>
    public void Gauge(string name, string help, Func<double> read, string labels = "") =>
        Observed(_gauges, name, labels, read, family => _meter.CreateObservableGauge(name, family.Read, description: help));

    /// <summary>A counter whose total is kept elsewhere (a cache's hits) and read at each scrape; same replacement rule as <see cref="Gauge"/>.</summary>
    public void ObservedCounter(string name, string help, Func<double> read, string labels = "") =>
        Observed(_observedCounters, name, labels, read, family => _meter.CreateObservableCounter(name, family.Read, description: help));

    private static void Observed(ConcurrentDictionary<string, ObservedFamily> families, string name, string labels, Func<double> read, Action<ObservedFamily> create)
    {
        var family = families.GetOrAdd(name, _ =>
        {
            var created = new ObservedFamily();
            create(created);
            return created;
        });
        family.Readers[labels] = (Tags(labels), read);
    }

    /// <summary>Parses <c>a="x",b="y"</c> (values without quotes or commas, as every caller writes them).</summary>
    private static KeyValuePair<string, object?>[] Tags(string labels)
    {
        if (labels.Length == 0)
        {
            return [];
        }

        var pairs = labels.Split(',');
        var tags = new KeyValuePair<string, object?>[pairs.Length];
        for (var i = 0; i < pairs.Length; i++)
        {
            var at = pairs[i].IndexOf('=', StringComparison.Ordinal);
            tags[i] = new KeyValuePair<string, object?>(pairs[i][..at], pairs[i][(at + 1)..].Trim('"'));
        }

        return tags;
    }

    private sealed class ObservedFamily
    {
        public ConcurrentDictionary<string, (KeyValuePair<string, object?>[] Tags, Func<double> Read)> Readers { get; } = new(StringComparer.Ordinal);

        public IEnumerable<Measurement<double>> Read()
        {
            foreach (var (_, (tags, read)) in Readers)
            {
                yield return new Measurement<double>(read(), tags);
            }
        }
    }
}

/// <summary>One label set of a counter.</summary>
internal sealed class Counter(Counter<long> instrument, KeyValuePair<string, object?>[] tags)
{
    public void Increment() => instrument.Add(1, tags);

    public void Add(long amount) => instrument.Add(amount, tags);
}

/// <summary>One label set of a histogram.</summary>
internal sealed class Histogram(Histogram<double> instrument, KeyValuePair<string, object?>[] tags)
{
    /// <summary>Latency buckets in seconds, 100 µs to 5 s.</summary>
    public static readonly double[] LatencyBounds = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

    /// <summary>Batch-size buckets.</summary>
    public static readonly double[] SizeBounds = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000];

    public void Observe(double value) => instrument.Record(value, tags);
}
