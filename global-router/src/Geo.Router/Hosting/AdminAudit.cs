using Geo.Directory.Operators;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Geo.Router.Hosting;

/// <summary>
/// What an operator endpoint does, for the audit log (endpoint metadata). Changes are audited always; reads
/// (<paramref name="Audited"/> false) only when refused, so a probe with a wrong key shows but routine reads do not.
/// </summary>
internal sealed record AdminAction(string Name, bool Audited = true)
{
    public static AdminAction Read(string name) => new(name, Audited: false);
}

/// <summary>One admin call being audited: the filter fills in who and from where, the endpoint what it acted on.</summary>
internal sealed class AdminCall(string @operator, string action, string source, string? tenant)
{
    public string Operator { get; } = @operator;

    public string Action { get; } = action;

    public string Source { get; } = source;

    public string? Tenant { get; set; } = tenant;

    /// <summary>What was acted on (ids, regions, counts): never a key or a secret.</summary>
    public object? Detail { get; set; }

    /// <summary>The call the operator filter let through for this request.</summary>
    public static AdminCall Of(HttpContext context) => (AdminCall)context.Items[typeof(AdminCall)]!;

    public AuditRecord Record(string result, string? reason) =>
        new(Operator, Action, Tenant, Source, result, reason, AuditRecord.DetailOf(Detail));

    /// <summary>The record of the call's outcome: ok below 400, otherwise failed with the problem's detail as reason.</summary>
    public AuditRecord Record(object? result) => result switch
    {
        IStatusCodeHttpResult { StatusCode: >= 400 } and ProblemHttpResult problem => Record(AuditResults.Failed, problem.ProblemDetails.Detail),
        IStatusCodeHttpResult { StatusCode: >= 400 and var status } => Record(AuditResults.Failed, $"HTTP {status}"),
        _ => Record(AuditResults.Ok, null),
    };

    /// <summary>The caller's address as the audit log shows it (IPv4 without its IPv6 mapping).</summary>
    public static string SourceOf(HttpContext context) => context.Connection.RemoteIpAddress is { } address
        ? (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString()
        : "unknown";
}

/// <summary>
/// Writes the router's audit entries. Refused calls are capped (<see cref="AdminOptions.RefusedAuditPerSource"/> per
/// source address and <see cref="AdminOptions.RefusedAuditTotal"/> in all per <see cref="AdminOptions.RefusedAuditWindow"/>),
/// so a flood of wrong keys cannot fill the table; what is left out is counted in a warning instead. An entry that
/// cannot be written (directory database down) is logged, without secrets, and the call's answer stands.
/// </summary>
internal sealed partial class AdminAudit(TenantAdmin admin, IOptions<RouterOptions> options, TimeProvider time, ILogger<AdminAudit> logger)
{
    private readonly AdminOptions _options = options.Value.Admin;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, int> _refusedBySource = new(StringComparer.Ordinal);
    private long _windowStarted = long.MinValue;
    private int _refusedTotal;
    private int _refusedLeftOut;

    public async Task WriteAsync(AuditRecord record)
    {
        if (record.Result == AuditResults.Refused && !TakeRefusal(record.Source))
        {
            return;
        }

        try
        {
            // Not the request's token: an action that was done is recorded even when its caller hung up.
            await admin.Operators!.AppendAsync(record, CancellationToken.None);
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException)
        {
            LogNotWritten(ex, record.Operator, record.Action, record.Tenant, record.Source, record.Result);
        }
    }

    /// <summary>Whether one more refused call from <paramref name="source"/> is written in the current window.</summary>
    private bool TakeRefusal(string source)
    {
        lock (_lock)
        {
            var now = time.GetTimestamp();
            if (_windowStarted == long.MinValue || time.GetElapsedTime(_windowStarted, now) >= _options.RefusedAuditWindow)
            {
                if (_refusedLeftOut > 0)
                {
                    LogRefusalsLeftOut(_refusedLeftOut, _options.RefusedAuditWindow);
                }

                _windowStarted = now;
                _refusedTotal = 0;
                _refusedLeftOut = 0;
                _refusedBySource.Clear();
            }

            // The total is checked first, so there are never more sources counted than entries written.
            var fromSource = _refusedBySource.GetValueOrDefault(source);
            if (_refusedTotal >= _options.RefusedAuditTotal || fromSource >= _options.RefusedAuditPerSource)
            {
                if (_refusedLeftOut++ == 0)
                {
                    LogRefusalsCapped(source);
                }

                return false;
            }

            _refusedBySource[source] = fromSource + 1;
            _refusedTotal++;
            return true;
        }
    }

    [LoggerMessage(EventId = 3401, Level = LogLevel.Error, Message = "Audit entry not written (directory database unreachable): operator {Operator}, action {Action}, tenant {Tenant}, source {Source}, result {Result}")]
    private partial void LogNotWritten(Exception exception, string @operator, string action, string? tenant, string source, string result);

    [LoggerMessage(EventId = 3402, Level = LogLevel.Warning, Message = "Refused admin calls exceed the audit cap (first left out: from {Source}); more are counted, not written, until the window ends")]
    private partial void LogRefusalsCapped(string source);

    [LoggerMessage(EventId = 3403, Level = LogLevel.Warning, Message = "{Count} refused admin calls were left out of the audit log in the last {Window} window (cap reached)")]
    private partial void LogRefusalsLeftOut(int count, TimeSpan window);
}
