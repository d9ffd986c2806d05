using System.Globalization;
using HdrHistogram;

namespace Geo.LoadTests.Measurement;

/// <summary>
/// Collects latencies (microseconds) from many workers and reports percentiles. Each worker records into a histogram
/// of its own (HdrHistogram, 3 significant digits, up to 10 minutes), merged when it is done: memory stays the same
/// however long the run, unlike a list of every sample.
/// </summary>
internal sealed class LatencyRecorder
{
    private const long HighestMicroseconds = 600_000_000;

    private readonly LongHistogram _total = NewHistogram();
    private readonly Lock _gate = new();

    /// <summary>A recorder for one worker; merged into this one when the worker is done.</summary>
    public Local CreateLocal() => new(this);

    public string Summary()
    {
        lock (_gate)
        {
            if (_total.TotalCount == 0)
            {
                return "no samples";
            }

            return string.Create(CultureInfo.InvariantCulture,
                $"p50 {Ms(0.50)} ms, p99 {Ms(0.99)} ms, p99.9 {Ms(0.999)} ms, max {_total.GetMaxValue() / 1000.0:F2} ms ({_total.TotalCount} samples)");
        }
    }

    /// <summary>The latency at <paramref name="quantile"/> (0.99: p99) in milliseconds; NaN when nothing was recorded.</summary>
    public double Milliseconds(double quantile)
    {
        lock (_gate)
        {
            return _total.TotalCount == 0 ? double.NaN : ValueAt(quantile);
        }
    }

    private string Ms(double quantile) => ValueAt(quantile).ToString("F2", CultureInfo.InvariantCulture);

    private double ValueAt(double quantile) => _total.GetValueAtPercentile(quantile * 100) / 1000.0;

    private static LongHistogram NewHistogram() => new(HighestMicroseconds, 3);

    internal sealed class Local(LatencyRecorder owner)
    {
        private readonly LongHistogram _samples = NewHistogram();

        public void Record(long microseconds) => _samples.RecordValue(Math.Clamp(microseconds, 0, HighestMicroseconds));

        public void Flush()
        {
            lock (owner._gate)
            {
                owner._total.Add(_samples);
            }

            _samples.Reset();
        }
    }
}
