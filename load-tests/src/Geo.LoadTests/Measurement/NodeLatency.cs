using System.Globalization;

namespace Geo.LoadTests.Measurement;

/// <summary>
/// The node's own latency histogram (<c>geo_radius_request_duration_seconds</c>), read before and after the run. It leaves
/// out the load generator, which on a machine shared with the server can dominate the client figure. Percentiles are
/// bucket upper bounds.
/// </summary>
internal sealed class NodeLatency(Uri metrics, string type)
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };
    private SortedDictionary<double, long>? _before;

    public Uri Metrics => metrics;

    /// <summary>Reads the histogram at the start of the measured run.</summary>
    public async Task BeginAsync() => _before = await ReadAsync();

    /// <summary>"p50 ≤ …, p99 ≤ …, p99.9 ≤ …" over the run, or why it is not known.</summary>
    public async Task<string> SummaryAsync()
    {
        var after = await ReadAsync();
        if (_before is null || after is null || after.Count == 0)
        {
            return "not available (the node's /metrics could not be read)";
        }

        var counts = after.ToDictionary(b => b.Key, b => b.Value - _before.GetValueOrDefault(b.Key));
        var total = counts.GetValueOrDefault(double.PositiveInfinity);
        if (total <= 0)
        {
            return "no requests recorded";
        }

        string At(double quantile)
        {
            var bound = counts.Where(b => b.Value >= quantile * total).Select(b => b.Key).DefaultIfEmpty(double.PositiveInfinity).Min();
            return double.IsPositiveInfinity(bound) ? "> largest bucket" : string.Create(CultureInfo.InvariantCulture, $"≤ {bound * 1000:0.###} ms");
        }

        return string.Create(CultureInfo.InvariantCulture, $"p50 {At(0.5)}, p99 {At(0.99)}, p99.9 {At(0.999)} ({total} requests, receive to send inside the node)");
    }

    /// <summary>The text of a node's <c>/metrics</c>; null when it cannot be read.</summary>
    public static async Task<string?> ScrapeAsync(Uri metrics)
    {
        try
        {
            return await Http.GetStringAsync(metrics);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    private async Task<SortedDictionary<double, long>?> ReadAsync()
    {
        if (await ScrapeAsync(metrics) is not { } text)
        {
            return null;
        }

        var prefix = $"geo_radius_request_duration_seconds_bucket{{type=\"{type}\",le=\"";
        var buckets = new SortedDictionary<double, long>();
        foreach (var line in text.Split('\n'))
        {
            if (!line.StartsWith(prefix, StringComparison.Ordinal) || line.IndexOf("\"} ", prefix.Length, StringComparison.Ordinal) is not (var end and > 0))
            {
                continue;
            }

            var bound = line[prefix.Length..end] == "+Inf" ? double.PositiveInfinity : double.Parse(line.AsSpan(prefix.Length, end - prefix.Length), CultureInfo.InvariantCulture);
            buckets[bound] = (long)double.Parse(line.AsSpan(end + 3), CultureInfo.InvariantCulture);
        }

        return buckets;
    }
}
