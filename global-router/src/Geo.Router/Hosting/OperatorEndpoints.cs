using Geo.Directory.Operators;

namespace Geo.Router.Hosting;

/// <summary>A named operator key to add.</summary>
/// <param name="Name">Who will hold it (<see cref="OperatorKeys.NameRule"/>).</param>
internal sealed record AdminOperatorKeyBody(string? Name);

/// <summary>
/// <c>/admin/operator-keys</c> (list, add, revoke named operator keys) and <c>/admin/audit</c> (read the audit log),
/// behind the same operator filter as the rest of <c>/admin</c>. A new key is answered once and only its hash is kept;
/// listings show names and dates, never keys or hashes.
/// </summary>
internal static class OperatorEndpoints
{
    public static void Map(RouteGroupBuilder admin)
    {
        admin.MapGet("/operator-keys", ListAsync).WithMetadata(AdminAction.Read("operator_key.list"));
        admin.MapPost("/operator-keys", AddAsync).WithMetadata(new AdminAction("operator_key.add"));
        admin.MapDelete("/operator-keys/{name}", RevokeAsync).WithMetadata(new AdminAction("operator_key.revoke"));
        admin.MapGet("/audit", ReadAuditAsync).WithMetadata(AdminAction.Read("audit.read"));
    }

    private static async Task<IResult> ListAsync(TenantAdmin admin, CancellationToken cancellationToken)
    {
        var keys = await admin.Operators!.ListKeysAsync(cancellationToken);
        return Results.Json(keys.Select(k => new { name = k.Name, created = k.CreatedAt, revoked = k.RevokedAt }));
    }

    private static async Task<IResult> AddAsync(AdminOperatorKeyBody? body, TenantAdmin admin, HttpContext context, CancellationToken cancellationToken)
    {
        var name = body?.Name;
        AdminCall.Of(context).Detail = new { name };
        if (!OperatorKeys.IsValidName(name))
        {
            return AdminEndpoints.Problem(StatusCodes.Status400BadRequest, $"give the key's name: {OperatorKeys.NameRule}");
        }

        var key = OperatorKeys.New();
        return await admin.Operators!.AddKeyAsync(name!, OperatorKeys.Hash(key), cancellationToken)
            ? Results.Json(new { name, key, keyNote = "issued (shown once; only its hash is kept)" }, statusCode: StatusCodes.Status201Created)
            : AdminEndpoints.Problem(StatusCodes.Status409Conflict, $"an operator key named {name} exists (revoked ones keep their name): choose another name");
    }

    private static async Task<IResult> RevokeAsync(string name, TenantAdmin admin, HttpContext context, CancellationToken cancellationToken)
    {
        AdminCall.Of(context).Detail = new { name };
        return await admin.Operators!.RevokeKeyAsync(name, cancellationToken)
            ? Results.Json(new { name, revoked = true })
            : AdminEndpoints.Problem(StatusCodes.Status404NotFound, name == OperatorKeys.Bootstrap
                ? "the bootstrap key is configured (Router:Admin:OperatorKeySha256), not stored: change the setting to replace it"
                : $"no working operator key named {name}");
    }

    private static async Task<IResult> ReadAuditAsync(string? tenant, string? since, int? limit, TenantAdmin admin, TimeProvider time, CancellationToken cancellationToken)
    {
        DateTimeOffset? from = null;
        if (since is not null)
        {
            if (!AuditQuery.TryParseSpan(since, out var back))
            {
                return AdminEndpoints.Problem(StatusCodes.Status400BadRequest, "since is how far back to read: 90s, 30m, 24h or 7d");
            }

            from = time.GetUtcNow() - back;
        }

        var entries = await admin.Operators!.ReadAsync(new AuditQuery(tenant, from, Math.Clamp(limit ?? 100, 1, 10_000)), cancellationToken);
        return Results.Json(entries.Select(e => new
        {
            id = e.Id,
            at = e.At,
            @operator = e.Record.Operator,
            action = e.Record.Action,
            tenant = e.Record.Tenant,
            source = e.Record.Source,
            result = e.Record.Result,
            reason = e.Record.Reason,
            detail = e.Record.Detail,
        }));
    }
}
