using System.Globalization;

namespace Geo.LoadTests.Measurement;

/// <summary>Collects latencies (microseconds) from many workers and reports percentiles.</summary>
internal sealed class LatencyRecorder
{
    private readonly List<long[]> _chunks = [];
    private readonly Lock _gate = new();

    /// <summary>A recorder for one worker; merged into this one when the worker is done.</summary>
    public Local CreateLocal() => new(this);

    public string Summary()
    {
        long[] all;
        lock (_gate)
        {
            all = _chunks.SelectMany(c => c).ToArray();
        }

        if (all.Length == 0)
        {
            return "no samples";
        }

        Array.Sort(all);
        return string.Create(CultureInfo.InvariantCulture,
            $"p50 {Ms(all, 0.50)} ms, p99 {Ms(all, 0.99)} ms, p99.9 {Ms(all, 0.999)} ms, max {all[^1] / 1000.0:F2} ms ({all.Length} samples)");
    }

    private static string Ms(long[] sorted, double quantile) =>
        (sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(quantile * sorted.Length) - 1)] / 1000.0).ToString("F2", CultureInfo.InvariantCulture);

    internal sealed class Local(LatencyRecorder owner)
    {
        private readonly List<long> _samples = new(100_000);

        public void Record(long microseconds) => _samples.Add(microseconds);

        public void Flush()
        {
            lock (owner._gate)
            {
                owner._chunks.Add([.. _samples]);
            }

            _samples.Clear();
        }
    }
}
