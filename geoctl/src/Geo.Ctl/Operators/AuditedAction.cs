using Geo.Ctl.Tenants;
using Geo.Directory.Operators;
using Geo.Provisioning;
using Npgsql;

namespace Geo.Ctl.Operators;

/// <summary>
/// An admin action geoctl performs on the databases itself (not through the router), audited as the router audits
/// its own: which operator key, what, which tenant, from where (<c>geoctl:&lt;user&gt;@&lt;host&gt;</c>), and the result.
/// </summary>
/// <param name="action">What is done: <c>tenant.create</c>, <c>nas.add</c>, ...</param>
/// <param name="tenant">The tenant acted on, if any.</param>
/// <param name="detail">What is acted on (ids, regions, addresses): never a key or a secret.</param>
internal sealed class AuditedAction(string action, string? tenant, object? detail = null)
{
    /// <summary>The root option naming the operator key file geoctl acts with.</summary>
    public const string KeyFileOption = "--operator-key-file";

    /// <summary>Where geoctl's calls come from, as the audit log shows it.</summary>
    public static string Source => $"geoctl:{Environment.UserName}@{Environment.MachineName}";

    /// <summary>What was acted on; the command may fill it in as it learns more (e.g. the NAS id it chose).</summary>
    public object? Detail { get; set; } = detail;

    /// <summary>Refuses (audited) unless the operator key works, then runs <paramref name="action"/> and audits its outcome.</summary>
    public async Task<int> RunAsync(Platform platform, string? keyFile, Func<Task<int>> action, TextWriter error)
    {
        var identity = await platform.IdentifyOperatorAsync(keyFile, CancellationToken.None);
        var name = identity.Name ?? OperatorKeys.Unknown;
        if (!identity.Authorized)
        {
            var reason = identity.Revoked ? "operator key revoked" : File.Exists(keyFile ?? platform.Layout.OperatorKeyFile) ? "wrong operator key" : "no operator key";
            await AppendAsync(platform, name, AuditResults.Refused, reason, error);
            throw new ProvisioningException($"refused: {reason} ({keyFile ?? platform.Layout.OperatorKeyFile})");
        }

        int code;
        try
        {
            code = await action();
        }
        catch (Exception ex)
        {
            await AppendAsync(platform, name, AuditResults.Failed, ex is OperationCanceledException ? "cancelled" : ex.Message, error);
            throw;
        }

        await AppendAsync(platform, name, code == 0 ? AuditResults.Ok : AuditResults.Failed, code == 0 ? null : $"exit code {code}", error);
        return code;
    }

    private async Task AppendAsync(Platform platform, string name, string result, string? reason, TextWriter error)
    {
        try
        {
            // Not the command's token: an action that was done is recorded even when the command was interrupted.
            await platform.Operators.AppendAsync(new AuditRecord(name, action, tenant, Source, result, reason, AuditRecord.DetailOf(Detail)), CancellationToken.None);
        }
        catch (NpgsqlException ex)
        {
            await error.WriteLineAsync($"geoctl: warning: the audit entry ({action}, {result}) was not written: {ex.Message}");
        }
    }
}
