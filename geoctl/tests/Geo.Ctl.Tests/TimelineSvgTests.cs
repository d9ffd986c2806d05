using System.Globalization;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Geo.Ctl.Drill;

namespace Geo.Ctl.Tests;

/// <summary>The drill timeline is a standalone SVG: well-formed, one line per series, escaped labels, gaps where lag is unknown.</summary>
public sealed class TimelineSvgTests
{
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    [Fact]
    public void Render_Drill_ParsesAsSvgDocumentWithSizeAndBackground()
    {
        var doc = XDocument.Parse(TimelineSvg.Render("drill", ThreeSeconds(), [new(10, "kill a")]));

        Assert.NotNull(doc.Root);
        Assert.Equal(Svg + "svg", doc.Root.Name);
        Assert.Equal("1.1", (string?)doc.Root.Attribute("version"));
        Assert.Equal("960", (string?)doc.Root.Attribute("width"));
        Assert.Equal("444", (string?)doc.Root.Attribute("height"));
        Assert.Equal("0 0 960 444", (string?)doc.Root.Attribute("viewBox"));
        Assert.Equal("sans-serif", (string?)doc.Root.Attribute("font-family"));
        Assert.Contains(doc.Root.Elements(Svg + "rect"), r => (string?)r.Attribute("fill") == "white");
        Assert.Contains(Texts(doc), t => t.Value == "drill");
    }

    [Fact]
    public void Render_TwoRegions_OnePolylinePerRegionInOrdinalOrderPlusRejectedAndUnanswered()
    {
        TimelineBucket[] buckets =
        [
            new(0, Answered(("b", 5), ("a", 7)), 1, 0, 0.1),
            new(1, Answered(("a", 9)), 0, 2, 0.2),
            new(2, Answered(("b", 4)), 3, 1, 0.3),
        ];

        var doc = XDocument.Parse(TimelineSvg.Render("drill", buckets, []));

        var regions = Polylines(doc, "region");
        Assert.Equal(["a", "b"], regions.Select(Name));
        Assert.Equal(["#1f77b4", "#ff7f0e"], regions.Select(p => (string?)p.Attribute("stroke")));
        Assert.All(regions, p => Assert.Equal(buckets.Length, Points(p).Length));

        var rejected = Assert.Single(Polylines(doc, "rejected"));
        Assert.Equal("#d62728", (string?)rejected.Attribute("stroke"));
        var unanswered = Assert.Single(Polylines(doc, "unanswered"));
        Assert.Equal("#7f7f7f", (string?)unanswered.Attribute("stroke"));
        Assert.NotNull(unanswered.Attribute("stroke-dasharray"));

        var legend = Group(doc, "legend").Descendants(Svg + "text").Select(t => t.Value);
        Assert.Equal(["a", "b", "rejected", "no answer", "replication lag"], legend);
    }

    [Fact]
    public void Render_RegionMissingFromASecond_DrawnAtZeroThere()
    {
        TimelineBucket[] buckets = [new(0, Answered(("a", 10)), 0, 0, null), new(1, Answered(("b", 10)), 0, 0, null)];

        var doc = XDocument.Parse(TimelineSvg.Render("drill", buckets, []));

        var a = Points(Polylines(doc, "region")[0]);
        var bottom = Points(Assert.Single(Polylines(doc, "unanswered")))[1].Y;
        Assert.Equal(bottom, a[1].Y);
        Assert.True(a[0].Y < bottom);
    }

    [Fact]
    public void Render_MarkerLabelWithMarkup_EscapedAndDocumentStillParses()
    {
        var svg = TimelineSvg.Render("drill \"q\" & <t>", ThreeSeconds(), [new(5, "kill <a> & b")]);

        Assert.Contains("kill &lt;a&gt; &amp; b", svg, StringComparison.Ordinal);
        Assert.DoesNotContain("kill <a>", svg, StringComparison.Ordinal);
        var doc = XDocument.Parse(svg);
        var marker = Assert.Single(Groups(doc, "marker"));
        Assert.Equal("kill <a> & b", marker.Element(Svg + "text")?.Value);
        Assert.Equal("4 3", (string?)marker.Element(Svg + "line")?.Attribute("stroke-dasharray"));
        Assert.Contains(Texts(doc), t => t.Value == "drill \"q\" & <t>");
    }

    [Fact]
    public void Render_CharactersXmlCannotCarry_ReplacedAndDocumentStillParses()
    {
        var doc = XDocument.Parse(TimelineSvg.Render("drill\u0001", ThreeSeconds(), [new(5, "kill \0 a 😀")]));

        Assert.Contains(Texts(doc), t => t.Value == "kill \uFFFD a 😀");
    }

    [Fact]
    public void Render_CloseMarkers_LabelsOnDifferentRows()
    {
        var minutes = Enumerable.Range(0, 120).Select(s => new TimelineBucket(s, Answered(("a", 1)), 0, 0, null)).ToList();

        var doc = XDocument.Parse(TimelineSvg.Render("drill", minutes, [new(10, "kill a"), new(11, "promote b"), new(12, "rejoin a")]));

        var rows = Groups(doc, "marker").Select(m => (string?)m.Element(Svg + "text")?.Attribute("y")).ToList();
        Assert.Equal(3, rows.Distinct().Count());
    }

    [Fact]
    public void Render_FarApartMarkers_LabelsShareTheFirstRow()
    {
        var doc = XDocument.Parse(TimelineSvg.Render("drill", ThreeSeconds(), [new(5, "kill a"), new(50, "failback")]));

        var rows = Groups(doc, "marker").Select(m => (string?)m.Element(Svg + "text")?.Attribute("y")).ToList();
        Assert.Single(rows.Distinct());
    }

    [Fact]
    public void Render_LagWithGap_TwoSeparateLagPolylines()
    {
        TimelineBucket[] buckets =
        [
            new(0, Answered(("a", 1)), 0, 0, 1),
            new(1, Answered(("a", 1)), 0, 0, null),
            new(2, Answered(("a", 1)), 0, 0, 2),
            new(3, Answered(("a", 1)), 0, 0, 2.5),
        ];

        var doc = XDocument.Parse(TimelineSvg.Render("drill", buckets, []));

        var lag = Polylines(doc, "lag");
        Assert.Equal(2, lag.Count);
        Assert.Equal([1, 2], lag.Select(p => Points(p).Length));
        Assert.Equal("5", YMax(doc, "lag"));
        Assert.DoesNotContain(Texts(doc), t => t.Value == "lag not sampled");
    }

    [Fact]
    public void Render_LagNeverSampled_NoLagLineAndANote()
    {
        TimelineBucket[] buckets = [new(0, Answered(("a", 1)), 0, 0, null), new(1, Answered(("a", 1)), 0, 0, double.NaN)];

        var doc = XDocument.Parse(TimelineSvg.Render("drill", buckets, []));

        Assert.Empty(Polylines(doc, "lag"));
        Assert.Contains(Group(doc, "panel lag").Descendants(Svg + "text"), t => t.Value == "lag not sampled");
    }

    [Fact]
    public void Render_NoBuckets_ValidSvgSayingNoRequestsRecorded()
    {
        var doc = XDocument.Parse(TimelineSvg.Render("drill", [], []));

        Assert.Equal(Svg + "svg", doc.Root?.Name);
        Assert.Contains(Group(doc, "panel requests").Descendants(Svg + "text"), t => t.Value == "no requests recorded");
        Assert.Empty(doc.Descendants(Svg + "polyline"));
    }

    [Fact]
    public void Render_NoBucketsButMarkers_StillValidWithTheMarkers()
    {
        var doc = XDocument.Parse(TimelineSvg.Render("drill", [], [new(0, "start"), new(30, "kill a")]));

        Assert.Contains(Texts(doc), t => t.Value == "no requests recorded");
        Assert.Equal(2, Groups(doc, "marker").Count());
    }

    [Theory]
    [InlineData(87, 0, "100")]
    [InlineData(40, 0, "50")]
    [InlineData(200, 0, "200")]
    [InlineData(3, 0, "5")]
    [InlineData(0, 0, "1")]
    [InlineData(10, 120, "200")]
    public void Render_LargestPerSecondCount_RoundedUpAsTheYMaxTick(int answered, int rejected, string expected)
    {
        TimelineBucket[] buckets =
        [
            new(0, Answered(("a", 1), ("b", answered)), 0, 0, null),
            new(1, Answered(("a", answered / 2)), rejected, 0, null),
        ];

        var doc = XDocument.Parse(TimelineSvg.Render("drill", buckets, []));

        Assert.Equal(expected, YMax(doc, "requests"));
    }

    [Theory]
    [InlineData(100, 10)]
    [InlineData(300, 30)]
    [InlineData(600, 60)]
    [InlineData(3600, 600)]
    [InlineData(7200, 1200)]
    public void Render_RunLength_TimeTicksEveryStepAndAtMostTwelve(int seconds, int step)
    {
        var buckets = Enumerable.Range(0, seconds).Select(s => new TimelineBucket(s, Answered(("a", 1)), 0, 0, null)).ToList();

        var doc = XDocument.Parse(TimelineSvg.Render("drill", buckets, []));

        var ticks = Group(doc, "time-axis").Elements(Svg + "text")
            .Where(t => (string?)t.Attribute("class") == "x-tick")
            .Select(t => int.Parse(t.Value, CultureInfo.InvariantCulture))
            .ToList();
        Assert.InRange(ticks.Count, 2, 12);
        Assert.Equal(0, ticks[0]);
        Assert.All(ticks.Zip(ticks.Skip(1)), pair => Assert.Equal(step, pair.Second - pair.First));
    }

    [Fact]
    public void Render_Coordinates_InvariantNumbersWithAtMostOneDecimal()
    {
        TimelineBucket[] buckets = [new(0, Answered(("a", 3)), 0, 0, 0.123), new(1, Answered(("a", 7)), 0, 0, 0.456), new(2, Answered(("a", 1)), 0, 0, 0.789)];

        var svg = TimelineSvg.Render("drill", buckets, [new(1.337, "kill a")]);

        foreach (var points in XDocument.Parse(svg).Descendants(Svg + "polyline").Select(p => (string)p.Attribute("points")!))
        {
            Assert.Matches(@"^-?\d+(\.\d)?,-?\d+(\.\d)?( -?\d+(\.\d)?,-?\d+(\.\d)?)*$", points);
        }

        Assert.DoesNotMatch(@"\d\.\d{3}", svg);
    }

    private static TimelineBucket[] ThreeSeconds() =>
    [
        new(0, Answered(("a", 50)), 0, 0, 0.2),
        new(1, Answered(("a", 20), ("b", 10)), 2, 18, null),
        new(2, Answered(("b", 48)), 1, 0, 0.4),
    ];

    private static Dictionary<string, int> Answered(params (string Region, int Count)[] counts) =>
        counts.ToDictionary(c => c.Region, c => c.Count, StringComparer.Ordinal);

    private static IEnumerable<XElement> Texts(XDocument doc) => doc.Descendants(Svg + "text");

    private static IEnumerable<XElement> Groups(XDocument doc, string cssClass) =>
        doc.Descendants(Svg + "g").Where(g => (string?)g.Attribute("class") == cssClass);

    private static XElement Group(XDocument doc, string cssClass) => Assert.Single(Groups(doc, cssClass));

    private static List<XElement> Polylines(XDocument doc, string kind) =>
        doc.Descendants(Svg + "polyline").Where(p => (string?)p.Attribute("class") == $"series {kind}").ToList();

    private static string? Name(XElement polyline) => polyline.Element(Svg + "title")?.Value;

    private static string? YMax(XDocument doc, string panel) =>
        Group(doc, $"panel {panel}").Elements(Svg + "text").SingleOrDefault(t => (string?)t.Attribute("class") == "y-max")?.Value;

    private static (double X, double Y)[] Points(XElement polyline) =>
        Regex.Split(((string?)polyline.Attribute("points") ?? "").Trim(), @"\s+")
            .Select(pair => pair.Split(','))
            .Select(xy => (double.Parse(xy[0], CultureInfo.InvariantCulture), double.Parse(xy[1], CultureInfo.InvariantCulture)))
            .ToArray();
}
