using System.CommandLine;
using Geo.Ctl.Tenants;
using Geo.Directory.Operators;
using Geo.Provisioning;

namespace Geo.Ctl.Operators;

/// <summary><c>geoctl audit [--tenant T] [--since 1h] [--limit N]</c>: the admin audit log, newest first.</summary>
internal static class AuditCommand
{
    private static readonly string[] Header = ["at", "operator", "action", "tenant", "source", "result", "detail"];

    public static Command Create(Option<string> stateDir, TextWriter output, TextWriter error)
    {
        var tenant = new Option<string?>("--tenant") { Description = "Only this tenant's entries" };
        var since = new Option<string?>("--since") { Description = "Only entries this recent: 90s, 30m, 24h, 7d" };
        var limit = new Option<int>("--limit") { Description = "At most this many entries", DefaultValueFactory = _ => 50 };
        var audit = new Command("audit", "Show the admin audit log (who did what, to which tenant, from where, with what result), newest first")
        {
            tenant, since, limit,
        };
        audit.SetAction((result, ct) => TenantCommand.RunAsync(result, stateDir, output, error, async (platform, reporter) =>
        {
            if (result.GetValue(limit) < 1)
            {
                throw new ProvisioningException("--limit must be at least 1");
            }

            var from = result.GetValue(since) is { } text ? DateTimeOffset.UtcNow - NasCommand.ParseDuration(text, "--since") : (DateTimeOffset?)null;
            var entries = await platform.Operators.ReadAsync(new AuditQuery(result.GetValue(tenant), from, result.GetValue(limit)), ct);
            foreach (var line in Format(entries))
            {
                reporter.Line(line);
            }

            return 0;
        }));
        return audit;
    }

    /// <summary>The entries as aligned columns under a header; the result carries the reason of a refusal or failure.</summary>
    internal static IEnumerable<string> Format(IReadOnlyList<AuditEntry> entries)
    {
        var rows = new List<string[]> { Header };
        rows.AddRange(entries.Select(e => new[]
        {
            OperatorKeyCommand.Time(e.At), e.Record.Operator, e.Record.Action, e.Record.Tenant ?? "-", e.Record.Source,
            e.Record.Reason is { } reason ? $"{e.Record.Result}: {reason}" : e.Record.Result,
            e.Record.Detail is { } detail && detail.EnumerateObject().Any() ? detail.GetRawText() : "",
        }));
        return Columns.Align(rows);
    }
}
