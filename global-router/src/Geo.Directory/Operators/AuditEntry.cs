using System.Globalization;
using System.Text.Json;

namespace Geo.Directory.Operators;

/// <summary>What an admin action came to.</summary>
public static class AuditResults
{
    /// <summary>Done.</summary>
    public const string Ok = "ok";

    /// <summary>Not allowed: no, a wrong or a revoked operator key.</summary>
    public const string Refused = "refused";

    /// <summary>Allowed but not done (the operator's error or an unreachable database); the reason says which.</summary>
    public const string Failed = "failed";
}

/// <summary>
/// One admin action to record. Never put a key, secret or password in it: <paramref name="Reason"/> is a short
/// message for people and <paramref name="Detail"/> names what was acted on (ids, regions, addresses).
/// </summary>
/// <param name="Operator">The operator key's name (<see cref="OperatorKeys.Bootstrap"/>, <see cref="OperatorKeys.Unknown"/>).</param>
/// <param name="Action">What was done: <c>tenant.create</c>, <c>nas.add</c>, <c>operator_key.revoke</c>, ...</param>
/// <param name="Tenant">The tenant acted on, if any.</param>
/// <param name="Source">Where the call came from: the client's IP address, or <c>geoctl@host</c>.</param>
/// <param name="Result">One of <see cref="AuditResults"/>.</param>
/// <param name="Reason">Why it was refused or failed.</param>
/// <param name="Detail">What was acted on, as a JSON object.</param>
public sealed record AuditRecord(string Operator, string Action, string? Tenant, string Source, string Result, string? Reason, JsonElement? Detail)
{
    /// <summary>Longest reason kept (the rest is cut): a reason is a hint, the logs hold the whole story.</summary>
    public const int MaxReasonLength = 300;

    /// <summary><paramref name="detail"/> (an anonymous object or a dictionary) as the JSON detail of a record.</summary>
    public static JsonElement? DetailOf(object? detail) => detail is null ? null : JsonSerializer.SerializeToElement(detail, DetailOptions);

    private static readonly JsonSerializerOptions DetailOptions = new(JsonSerializerDefaults.Web);
}

/// <summary>A recorded admin action.</summary>
/// <param name="Id">Its number, in the order written.</param>
/// <param name="At">When it was written (the directory database's clock).</param>
/// <param name="Record">What was recorded.</param>
public sealed record AuditEntry(long Id, DateTimeOffset At, AuditRecord Record);

/// <summary>Which entries to read: newest first, optionally one tenant's, not older than <paramref name="Since"/>.</summary>
/// <param name="Tenant">Only this tenant's entries.</param>
/// <param name="Since">Only entries written at or after this.</param>
/// <param name="Limit">At most this many.</param>
public sealed record AuditQuery(string? Tenant, DateTimeOffset? Since, int Limit)
{
    /// <summary>A span of time as operators write it: 90s, 30m, 24h, 7d (or a TimeSpan such as 01:30:00); never negative.</summary>
    public static bool TryParseSpan(string text, out TimeSpan span)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length > 1 && long.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var value))
        {
            TimeSpan? parsed = text[^1] switch
            {
                's' => TimeSpan.FromSeconds(value),
                'm' => TimeSpan.FromMinutes(value),
                'h' => TimeSpan.FromHours(value),
                'd' => TimeSpan.FromDays(value),
                _ => null,
            };
            if (parsed is { } known)
            {
                span = known;
                return true;
            }
        }

        return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out span) && span >= TimeSpan.Zero;
    }
}
