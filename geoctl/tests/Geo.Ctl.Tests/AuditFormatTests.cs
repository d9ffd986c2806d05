using Geo.Ctl.Operators;
using Geo.Directory.Operators;

namespace Geo.Ctl.Tests;

public sealed class AuditFormatTests
{
    private static readonly DateTimeOffset At = new(2026, 12, 4, 10, 30, 0, TimeSpan.Zero);

    [Fact]
    public void Format_Entries_HeaderThenAlignedColumnsWithReasonAndDetail()
    {
        AuditEntry[] entries =
        [
            new(2, At.AddMinutes(1), new AuditRecord("unknown", "tenant.create", null, "10.0.0.9", AuditResults.Refused, "wrong operator key", null)),
            new(1, At, new AuditRecord("alice.ops", "nas.add", "acme", "geoctl:root@host", AuditResults.Ok, null, AuditRecord.DetailOf(new { nas = "bng-1" }))),
        ];

        var lines = AuditCommand.Format(entries).ToList();

        Assert.Equal(3, lines.Count);
        Assert.StartsWith("at ", lines[0], StringComparison.Ordinal);
        foreach (var column in new[] { "operator", "action", "tenant", "source", "result" })
        {
            var at = lines[0].IndexOf(column, StringComparison.Ordinal);
            Assert.All(lines.Skip(1), line => Assert.Equal(' ', line[at - 1]));
            Assert.All(lines.Skip(1), line => Assert.NotEqual(' ', line[at]));
        }

        Assert.Contains("2026-12-04 10:31:00Z", lines[1], StringComparison.Ordinal);
        Assert.Contains("refused: wrong operator key", lines[1], StringComparison.Ordinal);
        Assert.EndsWith("{\"nas\":\"bng-1\"}", lines[2], StringComparison.Ordinal);
        Assert.Contains(" - ", lines[1], StringComparison.Ordinal);
    }
}
