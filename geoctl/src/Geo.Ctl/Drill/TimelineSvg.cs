using System.Globalization;
using System.Text;
using System.Xml;

namespace Geo.Ctl.Drill;

/// <summary>
/// One second of a drill: requests answered by each region (region id -> count), Access-Rejects, requests no endpoint
/// answered, the standby's replication lag (null when unknown).
/// </summary>
/// <param name="StartSeconds">When the second starts, in seconds from the start of the drill.</param>
/// <param name="AnsweredByRegion">Requests answered in this second, by the id of the region that answered them.</param>
/// <param name="Rejected">Access-Rejects received in this second.</param>
/// <param name="Unanswered">Requests no endpoint answered (the NAS gave up on them) in this second.</param>
/// <param name="LagSeconds">The standby's replication lag in this second; null when it was not sampled.</param>
internal sealed record TimelineBucket(
    double StartSeconds, IReadOnlyDictionary<string, int> AnsweredByRegion, int Rejected, int Unanswered, double? LagSeconds);

/// <summary>A moment of the drill to mark on the timeline (kill, promote, rejoin, failback...).</summary>
/// <param name="AtSeconds">When it happened, in seconds from the start of the drill.</param>
/// <param name="Label">What happened, as shown next to the mark.</param>
internal sealed record TimelineMarker(double AtSeconds, string Label);

/// <summary>
/// A drill's timeline as a standalone SVG 1.1 image: requests/s answered by each region, rejected and unanswered on top,
/// the standby's replication lag below, the drill's moments as dashed lines across both, and a legend.
/// </summary>
internal static class TimelineSvg
{
    private const double Width = 960;
    private const double Height = 444;
    private const double PlotLeft = 64;
    private const double PlotRight = 820;
    private const double LegendLeft = 840;

    // Marker labels sit in rows above the requests panel, so close moments do not print over each other.
    private const double MarkerLabelTop = 38;
    private const double MarkerLabelRowHeight = 12;
    private const int MarkerLabelRows = 5;
    private const double MarkerLabelCharWidth = 5.5;

    private const int MaxTimeTicks = 12;

    private const string RejectedColour = "#d62728";
    private const string UnansweredColour = "#7f7f7f";
    private const string LagColour = "#17becf";
    private const string Dashes = "5 3";

    private static readonly Panel Requests = new(104, 290);
    private static readonly Panel Lag = new(320, 390);

    // Red and grey are kept for rejected and unanswered, cyan for the lag: regions get the rest, in order.
    private static readonly string[] RegionColours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#bcbd22"];
    private static readonly int[] TickSteps = [10, 30, 60, 120, 300, 600, 1200, 1800, 3600];
    private static readonly double[] NiceSteps = [1, 2, 5, 10];

    /// <summary>The drill as an SVG document: one polyline per region, rejected and unanswered, the lag, the marks.</summary>
    /// <param name="title">Shown at the top of the image.</param>
    /// <param name="buckets">The drill's seconds, in any order; an empty list draws "no requests recorded".</param>
    /// <param name="markers">The drill's moments to mark, in any order.</param>
    public static string Render(string title, IReadOnlyList<TimelineBucket> buckets, IReadOnlyList<TimelineMarker> markers)
    {
        ArgumentNullException.ThrowIfNull(title);
        ArgumentNullException.ThrowIfNull(buckets);
        ArgumentNullException.ThrowIfNull(markers);

        var seconds = buckets.Where(b => double.IsFinite(b.StartSeconds)).OrderBy(b => b.StartSeconds).ToList();
        var moments = markers.Where(m => double.IsFinite(m.AtSeconds)).OrderBy(m => m.AtSeconds).ToList();
        var time = TimeScale.Of(seconds, moments);
        var series = SeriesOf(seconds);

        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"""
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{Num(Width)}" height="{Num(Height)}" viewBox="0 0 {Num(Width)} {Num(Height)}" font-family="sans-serif">
            <title>{Escape(title)}</title>
            <rect class="background" x="0" y="0" width="{Num(Width)}" height="{Num(Height)}" fill="white"/>
            <text class="title" x="16" y="22" font-size="15" font-weight="bold" fill="#222">{Escape(title)}</text>

            """);
        RequestsPanel(svg, time, seconds, series);
        LagPanel(svg, time, seconds);
        TimeAxis(svg, time);
        Markers(svg, time, moments);
        Legend(svg, series);
        svg.Append("</svg>\n");
        return svg.ToString();
    }

    /// <summary>The lines of the requests panel: each region (ordinal order of id), then rejected, then unanswered.</summary>
    private static List<Series> SeriesOf(IReadOnlyList<TimelineBucket> seconds)
    {
        var regions = seconds.SelectMany(b => b.AnsweredByRegion.Keys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
        var series = regions
            .Select((region, i) => new Series(region, "region", RegionColours[i % RegionColours.Length], Dashed: false,
                seconds.Select(b => (double)b.AnsweredByRegion.GetValueOrDefault(region)).ToList()))
            .ToList();
        series.Add(new Series("rejected", "rejected", RejectedColour, Dashed: false, seconds.Select(b => (double)b.Rejected).ToList()));
        series.Add(new Series("no answer", "unanswered", UnansweredColour, Dashed: true, seconds.Select(b => (double)b.Unanswered).ToList()));
        return series;
    }

    private static void RequestsPanel(StringBuilder svg, TimeScale time, List<TimelineBucket> seconds, List<Series> series)
    {
        svg.Append("<g class=\"panel requests\">\n");
        PanelFrame(svg, Requests, "requests/s answered", time);
        if (seconds.Count == 0)
        {
            Note(svg, Requests, "no requests recorded");
        }
        else
        {
            var max = NiceCeiling(series.Max(s => s.Values.Max()), floor: 1);
            ValueAxis(svg, Requests, max);
            foreach (var line in series)
            {
                var points = seconds.Select((b, i) => (time.X(Middle(b)), Requests.Y(line.Values[i], max)));
                Polyline(svg, $"series {line.Kind}", line.Name, line.Colour, line.Dashed, points);
            }
        }

        svg.Append("</g>\n");
    }

    /// <summary>The lag as a line broken where it was not sampled, or a note when it never was.</summary>
    private static void LagPanel(StringBuilder svg, TimeScale time, IReadOnlyList<TimelineBucket> seconds)
    {
        svg.Append("<g class=\"panel lag\">\n");
        PanelFrame(svg, Lag, "replication lag (s)", time);
        var sampled = seconds.Select(b => b.LagSeconds ?? double.NaN).Where(double.IsFinite).ToList();
        if (sampled.Count == 0)
        {
            Note(svg, Lag, "lag not sampled");
        }
        else
        {
            var max = NiceCeiling(sampled.Max(), floor: 0.1);
            ValueAxis(svg, Lag, max);
            var segment = new List<(double X, double Y)>();
            foreach (var bucket in seconds)
            {
                if (bucket.LagSeconds is { } lag && double.IsFinite(lag))
                {
                    segment.Add((time.X(Middle(bucket)), Lag.Y(lag, max)));
                }
                else if (segment.Count > 0)
                {
                    Polyline(svg, "series lag", "replication lag", LagColour, dashed: false, segment);
                    segment = [];
                }
            }

            if (segment.Count > 0)
            {
                Polyline(svg, "series lag", "replication lag", LagColour, dashed: false, segment);
            }
        }

        svg.Append("</g>\n");
    }

    /// <summary>The panel's title above it, its border, and faint vertical grid lines at the time ticks.</summary>
    private static void PanelFrame(StringBuilder svg, Panel panel, string title, TimeScale time)
    {
        svg.Append(CultureInfo.InvariantCulture,
            $"<text class=\"panel-title\" x=\"{Num(PlotLeft)}\" y=\"{Num(panel.Top - 6)}\" font-size=\"12\" fill=\"#333\">{Escape(title)}</text>\n");
        foreach (var tick in time.Ticks())
        {
            var x = Num(time.X(tick));
            svg.Append(CultureInfo.InvariantCulture,
                $"<line class=\"grid\" x1=\"{x}\" y1=\"{Num(panel.Top)}\" x2=\"{x}\" y2=\"{Num(panel.Bottom)}\" stroke=\"#eee\"/>\n");
        }

        svg.Append(CultureInfo.InvariantCulture,
            $"<rect class=\"frame\" x=\"{Num(PlotLeft)}\" y=\"{Num(panel.Top)}\" width=\"{Num(PlotRight - PlotLeft)}\" height=\"{Num(panel.Bottom - panel.Top)}\" fill=\"none\" stroke=\"#ccc\"/>\n");
    }

    /// <summary>The value axis: 0 at the bottom of the panel, the rounded maximum at its top.</summary>
    private static void ValueAxis(StringBuilder svg, Panel panel, double max)
    {
        var x = Num(PlotLeft - 6);
        svg.Append(CultureInfo.InvariantCulture, $"""
            <text class="y-min" x="{x}" y="{Num(panel.Bottom + 4)}" font-size="10" text-anchor="end" fill="#555">0</text>
            <text class="y-max" x="{x}" y="{Num(panel.Top + 8)}" font-size="10" text-anchor="end" fill="#555">{Num(max, decimals: 2)}</text>

            """);
    }

    /// <summary>The time ticks under the lag panel, labelled in seconds, and the axis title.</summary>
    private static void TimeAxis(StringBuilder svg, TimeScale time)
    {
        svg.Append("<g class=\"time-axis\">\n");
        foreach (var tick in time.Ticks())
        {
            var x = Num(time.X(tick));
            svg.Append(CultureInfo.InvariantCulture, $"""
                <line x1="{x}" y1="{Num(Lag.Bottom)}" x2="{x}" y2="{Num(Lag.Bottom + 4)}" stroke="#999"/>
                <text class="x-tick" x="{x}" y="{Num(Lag.Bottom + 16)}" font-size="10" text-anchor="middle" fill="#555">{Num(tick)}</text>

                """);
        }

        svg.Append(CultureInfo.InvariantCulture,
            $"<text class=\"x-title\" x=\"{Num((PlotLeft + PlotRight) / 2)}\" y=\"{Num(Lag.Bottom + 34)}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#333\">time (s)</text>\n");
        svg.Append("</g>\n");
    }

    /// <summary>
    /// Each moment as a dashed line across both panels, labelled above them: a label takes the first row where it clears
    /// the labels before it, or else the row it overlaps least.
    /// </summary>
    private static void Markers(StringBuilder svg, TimeScale time, IReadOnlyList<TimelineMarker> markers)
    {
        var rowEnds = Enumerable.Repeat(double.NegativeInfinity, MarkerLabelRows).ToArray();
        foreach (var marker in markers)
        {
            var x = time.X(marker.AtSeconds);
            var width = marker.Label.Length * MarkerLabelCharWidth;
            var rightAligned = x + 3 + width > Width - 4;
            var (start, end) = rightAligned ? (x - 3 - width, x - 3) : (x + 3, x + 3 + width);

            var row = Array.FindIndex(rowEnds, rowEnd => rowEnd <= start);
            if (row < 0)
            {
                row = Array.IndexOf(rowEnds, rowEnds.Min());
            }

            rowEnds[row] = end + 4;
            var labelY = MarkerLabelTop + (row * MarkerLabelRowHeight);
            svg.Append(CultureInfo.InvariantCulture, $"""
                <g class="marker">
                <line x1="{Num(x)}" y1="{Num(labelY + 3)}" x2="{Num(x)}" y2="{Num(Lag.Bottom)}" stroke="#444" stroke-dasharray="4 3"/>
                <text x="{Num(rightAligned ? x - 3 : x + 3)}" y="{Num(labelY)}" font-size="10" text-anchor="{(rightAligned ? "end" : "start")}" fill="#222">{Escape(marker.Label)}</text>
                </g>

                """);
        }
    }

    /// <summary>Each line's colour (and dash) with its name, right of the panels.</summary>
    private static void Legend(StringBuilder svg, IReadOnlyList<Series> series)
    {
        var entries = series.Select(s => (s.Name, s.Colour, s.Dashed)).Append(("replication lag", LagColour, false)).ToList();
        svg.Append("<g class=\"legend\">\n");
        for (var i = 0; i < entries.Count; i++)
        {
            var (name, colour, dashed) = entries[i];
            var y = Requests.Top + 10 + (i * 18);
            svg.Append(CultureInfo.InvariantCulture, $"""
                <line x1="{Num(LegendLeft)}" y1="{Num(y - 4)}" x2="{Num(LegendLeft + 18)}" y2="{Num(y - 4)}" stroke="{colour}" stroke-width="2"{DashAttribute(dashed)}/>
                <text x="{Num(LegendLeft + 24)}" y="{Num(y)}" font-size="11" fill="#222">{Escape(name)}</text>

                """);
        }

        svg.Append("</g>\n");
    }

    private static void Polyline(StringBuilder svg, string cssClass, string name, string colour, bool dashed, IEnumerable<(double X, double Y)> points)
    {
        var coordinates = string.Join(' ', points.Select(p => $"{Num(p.X)},{Num(p.Y)}"));
        svg.Append(CultureInfo.InvariantCulture,
            $"<polyline class=\"{cssClass}\" points=\"{coordinates}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\" stroke-linejoin=\"round\" stroke-linecap=\"round\"{DashAttribute(dashed)}><title>{Escape(name)}</title></polyline>\n");
    }

    /// <summary>A grey note in the middle of a panel that has nothing to draw.</summary>
    private static void Note(StringBuilder svg, Panel panel, string text) =>
        svg.Append(CultureInfo.InvariantCulture,
            $"<text class=\"note\" x=\"{Num((PlotLeft + PlotRight) / 2)}\" y=\"{Num(((panel.Top + panel.Bottom) / 2) + 4)}\" font-size=\"12\" text-anchor=\"middle\" fill=\"#888\">{Escape(text)}</text>\n");

    private static string DashAttribute(bool dashed) => dashed ? $" stroke-dasharray=\"{Dashes}\"" : "";

    /// <summary>A bucket is drawn in the middle of its second.</summary>
    private static double Middle(TimelineBucket bucket) => bucket.StartSeconds + 0.5;

    /// <summary>The smallest 1, 2 or 5 times a power of ten at or above the value, and at least <paramref name="floor"/>.</summary>
    private static double NiceCeiling(double value, double floor)
    {
        if (!(value > floor))
        {
            return floor;
        }

        var decade = Math.Pow(10, Math.Floor(Math.Log10(value)));
        return NiceSteps.Select(step => step * decade).First(nice => nice >= value * (1 - 1e-9));
    }

    /// <summary>A number for the document: invariant culture, at most <paramref name="decimals"/> decimals, never "-0".</summary>
    private static string Num(double value, int decimals = 1) =>
        (Math.Round(value, decimals) + 0.0).ToString("0.##", CultureInfo.InvariantCulture);

    /// <summary>Text as XML character data or attribute value: markup characters as entities, characters XML cannot carry as U+FFFD.</summary>
    private static string Escape(string text)
    {
        var escaped = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            switch (c)
            {
                case '&':
                    escaped.Append("&amp;");
                    break;
                case '<':
                    escaped.Append("&lt;");
                    break;
                case '>':
                    escaped.Append("&gt;");
                    break;
                case '"':
                    escaped.Append("&quot;");
                    break;
                default:
                    if (i + 1 < text.Length && XmlConvert.IsXmlSurrogatePair(text[i + 1], c))
                    {
                        escaped.Append(c).Append(text[++i]);
                    }
                    else
                    {
                        escaped.Append(XmlConvert.IsXmlChar(c) ? c : '\uFFFD');
                    }

                    break;
            }
        }

        return escaped.ToString();
    }

    /// <summary>One line of the requests panel, with a value per bucket, and its entry in the legend.</summary>
    private sealed record Series(string Name, string Kind, string Colour, bool Dashed, IReadOnlyList<double> Values);

    /// <summary>A panel's vertical extent: values from 0 at its bottom to the maximum at its top.</summary>
    private readonly record struct Panel(double Top, double Bottom)
    {
        public double Y(double value, double max) => Bottom - (Math.Clamp(value / max, 0, 1) * (Bottom - Top));
    }

    /// <summary>Seconds of the drill to x: from the earliest bucket or moment to the end of the last bucket or the last moment.</summary>
    private readonly record struct TimeScale(double From, double To)
    {
        public static TimeScale Of(IReadOnlyList<TimelineBucket> seconds, IReadOnlyList<TimelineMarker> markers)
        {
            var times = seconds.SelectMany(b => new[] { b.StartSeconds, b.StartSeconds + 1 }).Concat(markers.Select(m => m.AtSeconds)).ToList();
            var from = times.Count == 0 ? 0 : times.Min();
            var to = times.Count == 0 ? 0 : times.Max();
            return new TimeScale(from, Math.Max(to, from + 1));
        }

        public double X(double seconds) => PlotLeft + ((seconds - From) / (To - From) * (PlotRight - PlotLeft));

        /// <summary>Every 10 s, or every 30 s, 60 s... when the drill is long, so there are at most a dozen ticks.</summary>
        public IEnumerable<double> Ticks()
        {
            var step = Step();
            for (var tick = Math.Ceiling(From / step) * step; tick <= To; tick += step)
            {
                yield return tick;
            }
        }

        private double Step()
        {
            foreach (var step in TickSteps)
            {
                if (Math.Floor(To / step) - Math.Ceiling(From / step) + 1 <= MaxTimeTicks)
                {
                    return step;
                }
            }

            return Math.Ceiling((To - From) / (MaxTimeTicks - 1) / 3600) * 3600;
        }
    }
}
