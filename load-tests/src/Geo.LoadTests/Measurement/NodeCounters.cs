using System.Globalization;

namespace Geo.LoadTests.Measurement;

/// <summary>
/// One labelled counter of the node's <c>/metrics</c> (for instance <c>geo_profile_lookups_total</c> by source), read
/// before and after the run, so a benchmark can say where its answers came from.
/// </summary>
internal sealed class NodeCounters(Uri metrics, string name)
{
    private Dictionary<string, double>? _before;

    public async Task BeginAsync() => _before = await ReadAsync();

    /// <summary>Each series' increase over the run, largest first, with its share: "source=database 97.0 % (291,000)".</summary>
    public async Task<string> SummaryAsync()
    {
        var after = await ReadAsync();
        if (_before is null || after is null)
        {
            return "not available (the node's /metrics could not be read)";
        }

        var deltas = after.Select(s => (Labels: s.Key, Delta: s.Value - _before.GetValueOrDefault(s.Key))).Where(s => s.Delta > 0).OrderByDescending(s => s.Delta).ToList();
        var total = deltas.Sum(s => s.Delta);
        return total <= 0
            ? "none"
            : string.Join(", ", deltas.Select(s => string.Create(CultureInfo.InvariantCulture, $"{s.Labels} {100 * s.Delta / total:0.0} % ({s.Delta:N0})")));
    }

    private async Task<Dictionary<string, double>?> ReadAsync()
    {
        if (await NodeLatency.ScrapeAsync(metrics) is not { } text)
        {
            return null;
        }

        var series = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            if (!line.StartsWith(name, StringComparison.Ordinal) || line.Length <= name.Length || line[name.Length] is not ('{' or ' '))
            {
                continue;
            }

            var space = line.LastIndexOf(' ');
            var labels = line[name.Length] == '{' ? line[(name.Length + 1)..line.LastIndexOf('}')].Replace("\"", "", StringComparison.Ordinal) : "";
            if (double.TryParse(line.AsSpan(space + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                series[labels] = series.GetValueOrDefault(labels) + value;
            }
        }

        return series;
    }
}
