using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace Geo.Hosting.Telemetry;

/// <summary>
/// Serves the host's <see cref="System.Diagnostics.Metrics"/> instruments as Prometheus text (<c>/metrics</c>), listening only
/// to its own <see cref="IMeterFactory"/>'s meters: the OpenTelemetry exporter (1.20.1-beta.1) merged same-named meters of two
/// hosts in one process (5 and 7 read 12 in both). Buckets: <see cref="InstrumentAdvice{T}.HistogramBucketBoundaries"/>.
/// </summary>
public sealed class PrometheusExporter : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly Lock _scrape = new();
    private readonly List<Family> _families = [];

    /// <summary>Starts listening to the meters <paramref name="meters"/> creates.</summary>
    public PrometheusExporter(IMeterFactory meters)
    {
        ArgumentNullException.ThrowIfNull(meters);
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (!ReferenceEquals(instrument.Meter.Scope, meters))
            {
                return;
            }

            var family = new Family(instrument);
            lock (_families)
            {
                _families.Add(family);
            }

            listener.EnableMeasurementEvents(instrument, family);
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, state) => ((Family)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<int>((_, value, tags, state) => ((Family)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<double>((_, value, tags, state) => ((Family)state!).Record(value, tags));
        _listener.Start();
    }

    /// <summary>The text exposition (version 0.0.4) of every instrument, families in name order.</summary>
    public string Render()
    {
        lock (_scrape)
        {
            Family[] families;
            lock (_families)
            {
                families = [.. _families.OrderBy(f => f.Name, StringComparer.Ordinal)];
            }

            foreach (var family in families)
            {
                family.BeginCollect();
            }

            _listener.RecordObservableInstruments();
            var text = new StringBuilder(4096);
            foreach (var family in families)
            {
                family.Write(text);
            }

            return text.ToString();
        }
    }

    /// <summary>Stops listening.</summary>
    public void Dispose() => _listener.Dispose();

    /// <summary>One instrument: its series, one per distinct tag set, in the order first seen.</summary>
    private sealed class Family(Instrument instrument)
    {
        private readonly bool _observable = instrument.IsObservable;
        private readonly string _type = instrument switch
        {
            Counter<long> or Counter<int> or Counter<double> or ObservableCounter<long> or ObservableCounter<int> or ObservableCounter<double> => "counter",
            Histogram<long> or Histogram<int> or Histogram<double> => "histogram",
            _ => "gauge",
        };

        private readonly double[] _bounds = instrument switch
        {
            Histogram<double> h => [.. h.Advice?.HistogramBucketBoundaries ?? []],
            Histogram<long> h => [.. (h.Advice?.HistogramBucketBoundaries ?? []).Select(b => (double)b)],
            _ => [],
        };

        private readonly Lock _adding = new();
        private volatile Series[] _series = [];

        public string Name { get; } = instrument.Name;

        public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var series = Find(tags) ?? Add(tags);
            switch (_type)
            {
                case "histogram":
                    series.Observe(value, _bounds);
                    break;
                case "counter" when !_observable:
                    series.Add(value);
                    break;
                default:
                    // Gauges, and observable counters (which report their cumulative total).
                    series.Set(value);
                    break;
            }
        }

        /// <summary>Observable instruments report afresh at every scrape: a series not reported again is gone.</summary>
        public void BeginCollect()
        {
            if (_observable)
            {
                _series = [];
            }
        }

        public void Write(StringBuilder text)
        {
            var all = _series;
            if (all.Length == 0)
            {
                return;
            }

            text.Append("# HELP ").Append(Name).Append(' ').Append(instrument.Description ?? Name).Append('\n');
            text.Append("# TYPE ").Append(Name).Append(' ').Append(_type).Append('\n');
            foreach (var series in all)
            {
                if (_type == "histogram")
                {
                    series.WriteHistogram(text, Name, _bounds);
                }
                else
                {
                    text.Append(Name).Append(series.Labels).Append(' ').Append(Number(series.Value)).Append('\n');
                }
            }
        }

        private Series? Find(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            foreach (var series in _series)
            {
                if (series.Matches(tags))
                {
                    return series;
                }
            }

            return null;
        }

        private Series Add(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var copy = tags.ToArray();
            lock (_adding)
            {
                var found = Find(tags);
                if (found is not null)
                {
                    return found;
                }

                var series = new Series(copy, _bounds.Length + 1);
                _series = [.. _series, series];
                return series;
            }
        }
    }

    /// <summary>One tag set's value (counter, gauge) or buckets (histogram); lock-free updates.</summary>
    private sealed class Series(KeyValuePair<string, object?>[] tags, int buckets)
    {
        private readonly long[] _buckets = new long[buckets];
        private long _count;
        private double _value;

        public string Labels { get; } = Format(tags);

        public double Value => Volatile.Read(ref _value);

        public bool Matches(ReadOnlySpan<KeyValuePair<string, object?>> other)
        {
            if (other.Length != tags.Length)
            {
                return false;
            }

            for (var i = 0; i < tags.Length; i++)
            {
                if (!string.Equals(tags[i].Key, other[i].Key, StringComparison.Ordinal) || !Equals(tags[i].Value, other[i].Value))
                {
                    return false;
                }
            }

            return true;
        }

        public void Set(double value) => Volatile.Write(ref _value, value);

        public void Add(double amount)
        {
            double seen, updated;
            do
            {
                seen = Volatile.Read(ref _value);
                updated = seen + amount;
            }
            while (Interlocked.CompareExchange(ref _value, updated, seen) != seen);
        }

        public void Observe(double value, double[] bounds)
        {
            var index = Array.BinarySearch(bounds, value);
            Interlocked.Increment(ref _buckets[index < 0 ? ~index : index]);
            Interlocked.Increment(ref _count);
            Add(value);
        }

        public void WriteHistogram(StringBuilder text, string name, double[] bounds)
        {
            var prefix = Labels.Length == 0 ? "{" : Labels[..^1] + ",";
            long cumulative = 0;
            for (var i = 0; i < bounds.Length; i++)
            {
                cumulative += Interlocked.Read(ref _buckets[i]);
                text.Append(name).Append("_bucket").Append(prefix).Append("le=\"").Append(Number(bounds[i])).Append("\"} ")
                    .Append(cumulative.ToString(CultureInfo.InvariantCulture)).Append('\n');
            }

            var count = Interlocked.Read(ref _count);
            text.Append(name).Append("_bucket").Append(prefix).Append("le=\"+Inf\"} ").Append(count.ToString(CultureInfo.InvariantCulture)).Append('\n');
            text.Append(name).Append("_sum").Append(Labels).Append(' ').Append(Number(Value)).Append('\n');
            text.Append(name).Append("_count").Append(Labels).Append(' ').Append(count.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }

        private static string Format(KeyValuePair<string, object?>[] tags)
        {
            if (tags.Length == 0)
            {
                return "";
            }

            var text = new StringBuilder("{");
            for (var i = 0; i < tags.Length; i++)
            {
                text.Append(i == 0 ? "" : ",").Append(tags[i].Key).Append("=\"")
                    .Append(Escape(Convert.ToString(tags[i].Value, CultureInfo.InvariantCulture) ?? "")).Append('"');
            }

            return text.Append('}').ToString();
        }

        private static string Escape(string value) =>
            value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
    }

    private static string Number(double value) => double.IsNaN(value) ? "NaN" : value.ToString("R", CultureInfo.InvariantCulture);
}
