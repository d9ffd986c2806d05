using System.Globalization;
using System.Text;

namespace Geo.Provisioning.NasConfig;

/// <summary>The NAS configuration dialects geoctl writes.</summary>
public enum NasConfigFormat
{
    Mikrotik,
    Cisco,
    Juniper,
    Freeradius,
}

/// <summary>A region's RADIUS endpoint as a NAS sees it.</summary>
public sealed record RadiusEndpoint(string RegionId, string Host, int AuthPort, int AcctPort);

/// <summary>Everything a NAS's RADIUS client configuration needs. The secret is the NAS's shared secret (or a placeholder).</summary>
public sealed record NasClient(string TenantId, string NasId, string NasAddress, RadiusEndpoint Primary, RadiusEndpoint? Backup, string Secret)
{
    // Never print the secret by accident (records generate a ToString with every property).
    public override string ToString() => $"NAS {TenantId}/{NasId} at {NasAddress}: primary {Primary.RegionId}, backup {Backup?.RegionId ?? "none"}";
}

/// <summary>
/// How fast a NAS gives up on its primary: <see cref="Attempts"/> × <see cref="TimeoutSeconds"/> = 3 × 1 s, plus at most
/// 1 s for the backup to answer = 4 s, inside the 5 s failover budget. A dead primary is skipped for
/// <see cref="DeadTimeSeconds"/>, so later requests go to the backup at once.
/// </summary>
public static class FailoverTiming
{
    public const int TimeoutSeconds = 1;
    public const int Attempts = 3;
    public const int DeadTimeSeconds = 60;
    public const int BudgetSeconds = 5;

    /// <summary>Worst case from the first send to the primary until the backup has answered.</summary>
    public static int WorstCaseSeconds => (TimeoutSeconds * Attempts) + TimeoutSeconds;
}

/// <summary>Writes a NAS's RADIUS client configuration: the home region first, the backup region second.</summary>
public static class NasConfigGenerator
{
    /// <summary>Stands in for the shared secret wherever it must not be shown.</summary>
    public const string SecretPlaceholder = "GEO-NAS-SECRET";

    public static bool TryParseFormat(string text, out NasConfigFormat format) =>
        Enum.TryParse(text, ignoreCase: true, out format) && Enum.IsDefined(format);

    public static string Generate(NasClient nas, NasConfigFormat format)
    {
        ArgumentNullException.ThrowIfNull(nas);
        var text = new StringBuilder();
        switch (format)
        {
            case NasConfigFormat.Mikrotik:
                Mikrotik(nas, text);
                break;
            case NasConfigFormat.Cisco:
                Cisco(nas, text);
                break;
            case NasConfigFormat.Juniper:
                Juniper(nas, text);
                break;
            case NasConfigFormat.Freeradius:
                Freeradius(nas, text);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(format), format, "unknown NAS configuration format");
        }

        return text.ToString();
    }

    private static IEnumerable<RadiusEndpoint> Servers(NasClient nas) => nas.Backup is null ? [nas.Primary] : [nas.Primary, nas.Backup];

    private static void Mikrotik(NasClient nas, StringBuilder text)
    {
        // RouterOS tries the /radius entries in order, each once for its timeout: 1 s on the home region, then the backup.
        var secret = Quote(nas.Secret, escapeDollar: true);
        Line(text, $"# Geo: RADIUS for NAS {nas.NasId} (tenant {nas.TenantId}); {Order(nas)}.");
        foreach (var server in Servers(nas))
        {
            Line(text, $"/radius add service=ppp,hotspot,login address={server.Host} authentication-port={server.AuthPort} accounting-port={server.AcctPort} " +
                       $"secret={secret} timeout={FailoverTiming.TimeoutSeconds * 1000}ms src-address={nas.NasAddress} comment=\"geo region {server.RegionId}\"");
        }

        Line(text, "/radius incoming set accept=yes port=3799");
        Line(text, "/ppp aaa set use-radius=yes accounting=yes interim-update=5m");
    }

    private static void Cisco(NasClient nas, StringBuilder text)
    {
        // IOS CLI: a key runs to the end of the line and '?' opens help: refuse what the CLI would mangle.
        if (nas.Secret.Any(c => char.IsWhiteSpace(c) || c == '?'))
        {
            throw new ArgumentException("a Cisco IOS RADIUS key cannot hold whitespace or '?'", nameof(nas));
        }

        var group = GroupName(nas);
        Line(text, $"! Geo: RADIUS for NAS {nas.NasId} (tenant {nas.TenantId}); {Order(nas)}.");
        Line(text, $"! timeout {FailoverTiming.TimeoutSeconds} s x {FailoverTiming.Attempts} sends, then the next server: failover within {FailoverTiming.WorstCaseSeconds} s.");
        Line(text, "aaa new-model");
        foreach (var server in Servers(nas))
        {
            Line(text, $"radius server GEO-{server.RegionId.ToUpperInvariant()}");
            Line(text, $" address ipv4 {server.Host} auth-port {server.AuthPort} acct-port {server.AcctPort}");
            Line(text, $" timeout {FailoverTiming.TimeoutSeconds}");
            Line(text, $" retransmit {FailoverTiming.Attempts - 1}");
            Line(text, $" key 0 {nas.Secret}");
        }

        Line(text, $"aaa group server radius {group}");
        foreach (var server in Servers(nas))
        {
            Line(text, $" server name GEO-{server.RegionId.ToUpperInvariant()}");
        }

        Line(text, $" deadtime {FailoverTiming.DeadTimeSeconds / 60}");
        Line(text, $"radius-server dead-criteria time {FailoverTiming.TimeoutSeconds * FailoverTiming.Attempts} tries {FailoverTiming.Attempts}");
        Line(text, $"aaa authentication ppp default group {group}");
        Line(text, $"aaa authorization network default group {group}");
        Line(text, $"aaa accounting network default start-stop group {group}");
        Line(text, "aaa server radius dynamic-author");
        foreach (var server in Servers(nas))
        {
            Line(text, $" client {server.Host} server-key 0 {nas.Secret}");
        }
    }

    private static void Juniper(NasClient nas, StringBuilder text)
    {
        // Junos "retry" counts every send to a server.
        var profile = GroupName(nas).ToLowerInvariant();
        var secret = Quote(nas.Secret, escapeDollar: false);
        var servers = string.Join(' ', Servers(nas).Select(s => s.Host));
        Line(text, $"# Geo: RADIUS for NAS {nas.NasId} (tenant {nas.TenantId}); {Order(nas)}.");
        foreach (var server in Servers(nas))
        {
            Line(text, $"set access radius-server {server.Host} port {server.AuthPort} accounting-port {server.AcctPort} secret {secret} " +
                       $"timeout {FailoverTiming.TimeoutSeconds} retry {FailoverTiming.Attempts} source-address {nas.NasAddress}");
        }

        Line(text, $"set access profile {profile} authentication-order radius");
        Line(text, $"set access profile {profile} accounting order radius");
        Line(text, $"set access profile {profile} radius authentication-server [ {servers} ]");
        Line(text, $"set access profile {profile} radius accounting-server [ {servers} ]");
        Line(text, $"set access profile {profile} radius options revert-interval {FailoverTiming.DeadTimeSeconds}");
    }

    private static void Freeradius(NasClient nas, StringBuilder text)
    {
        // FreeRADIUS as the NAS-side proxy: a fail-over pool. A home server that has not answered within
        // response_window (1 s) is marked zombie and the request goes to the next server of the pool.
        var pool = GroupName(nas).ToLowerInvariant();
        var secret = Quote(nas.Secret, escapeDollar: false);
        Line(text, $"# Geo: proxy.conf fragment for NAS {nas.NasId} (tenant {nas.TenantId}); {Order(nas)}.");
        foreach (var server in Servers(nas))
        {
            foreach (var (type, port) in new[] { ("auth", server.AuthPort), ("acct", server.AcctPort) })
            {
                Line(text, $"home_server geo_{Id(server.RegionId)}_{type} {{");
                Line(text, $"    type = {type}");
                Line(text, $"    ipaddr = {server.Host}");
                Line(text, $"    port = {port.ToString(CultureInfo.InvariantCulture)}");
                Line(text, $"    secret = {secret}");
                Line(text, $"    response_window = {FailoverTiming.TimeoutSeconds}");
                Line(text, $"    zombie_period = {FailoverTiming.TimeoutSeconds * FailoverTiming.Attempts}");
                Line(text, "    status_check = none");
                Line(text, $"    revive_interval = {FailoverTiming.DeadTimeSeconds}");
                Line(text, "}");
            }
        }

        foreach (var type in new[] { "auth", "acct" })
        {
            Line(text, $"home_server_pool {pool}_{type} {{");
            Line(text, "    type = fail-over");
            foreach (var server in Servers(nas))
            {
                Line(text, $"    home_server = geo_{Id(server.RegionId)}_{type}");
            }

            Line(text, "}");
        }

        Line(text, $"realm {pool} {{");
        Line(text, $"    auth_pool = {pool}_auth");
        Line(text, $"    acct_pool = {pool}_acct");
        Line(text, "    nostrip");
        Line(text, "}");
    }

    private static string Order(NasClient nas) => nas.Backup is null
        ? $"home region {nas.Primary.RegionId}, no backup region"
        : $"home region {nas.Primary.RegionId} first, backup region {nas.Backup.RegionId} second";

    /// <summary>How a comment line starts in the dialect.</summary>
    public static string CommentPrefix(NasConfigFormat format) => format == NasConfigFormat.Cisco ? "!" : "#";

    private static string GroupName(NasClient nas) => $"GEO-{nas.TenantId.ToUpperInvariant()}".Replace('_', '-');

    private static string Id(string regionId) => regionId.Replace('-', '_');

    private static string Quote(string value, bool escapeDollar)
    {
        var escaped = value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal);
        return "\"" + (escapeDollar ? escaped.Replace("$", "\\$", StringComparison.Ordinal) : escaped) + "\"";
    }

    private static void Line(StringBuilder text, string line) => text.Append(line).Append('\n');
}
