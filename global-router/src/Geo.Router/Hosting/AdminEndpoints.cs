using Geo.Directory;
using Geo.Directory.Operators;
using Geo.Directory.Shards;
using Geo.Hosting;
using Geo.Provisioning;
using Geo.Provisioning.Recovery;
using Geo.Replication.Promotion;
using Geo.Schema;
using Microsoft.Extensions.Options;

namespace Geo.Router.Hosting;

/// <summary>A tenant to create through the admin API.</summary>
/// <param name="Id">Tenant id.</param>
/// <param name="DisplayName">Name for people (default: the id).</param>
/// <param name="Shards">Home regions with their standby.</param>
internal sealed record AdminTenantBody(string? Id, string? DisplayName, List<AdminShardBody>? Shards);

/// <summary>One home region of a tenant to create, and its standby (null: none).</summary>
internal sealed record AdminShardBody(string? Home, string? Standby);

/// <summary>
/// What the admin API works with: the directory store, each region's PostgreSQL server, and the operator keys and
/// audit log (PostgreSQL, see <see cref="OperatorStore"/>).
/// </summary>
internal sealed class TenantAdmin(IDirectoryStore store, IOptions<RouterOptions> options) : IAsyncDisposable
{
    private readonly AdminOptions _admin = options.Value.Admin;
    private readonly byte[] _bootstrapKeyHash = options.Value.Admin.Enabled ? Convert.FromHexString(options.Value.Admin.OperatorKeySha256) : [];
    // The provisioner reaches the directory through the store (PostgreSQL or Consul); only the servers are used from here.
    private readonly PlatformDatabases? _databases = options.Value.Admin.Enabled
        ? new PlatformDatabases(options.Value.DirectoryConnectionString ?? "(directory in Consul)", options.Value.Admin.Servers)
        : null;

    public bool Enabled => _admin.Enabled;

    /// <summary>Operator keys and the audit log; set whenever <see cref="Enabled"/> (the options validator sees to the connection string).</summary>
    public OperatorStore? Operators { get; } = options.Value.Admin.Enabled ? new OperatorStore(options.Value.DirectoryConnectionString!) : null;

    /// <summary>
    /// Who sent the request's bearer key: the configured bootstrap key or a named key. The key table is read on every
    /// call (it is small and admin calls are few), so a key revoked a moment ago is refused by the next request.
    /// </summary>
    public async Task<OperatorIdentity> IdentifyAsync(HttpRequest request, CancellationToken cancellationToken) =>
        BearerKeys.TryRead(request, out var key) ? await IdentifyKeyAsync(key, cancellationToken) : default;

    /// <summary>Who holds <paramref name="key"/> (the console's sign-in).</summary>
    public async Task<OperatorIdentity> IdentifyKeyAsync(string key, CancellationToken cancellationToken) =>
        OperatorKeys.Identify(key, await Operators!.ListKeysAsync(cancellationToken), _bootstrapKeyHash);

    /// <summary>Whether the key named <paramref name="operatorName"/> still works: the bootstrap key always, a named key until revoked.</summary>
    public async Task<bool> IsWorkingAsync(string operatorName, CancellationToken cancellationToken) =>
        operatorName == OperatorKeys.Bootstrap
        || (await Operators!.ListKeysAsync(cancellationToken)).Any(k => k.Name == operatorName && k.RevokedAt is null);

    /// <summary>The directory the admin API and the console act on.</summary>
    public IDirectoryStore Store => store;

    public ShardSwitchover Switchover(IProvisioningProgress progress) => new(store, _databases!, progress);

    public ShardPromotion Promotion(IProvisioningProgress progress) => new(store, _databases!, progress, driver: "geo-router");

    /// <summary>What promoting <paramref name="shard"/> now would lose, as its standby's replica knows it (the promotion measures it again).</summary>
    public async Task<(RpoEstimate Estimate, string Text)> PromotionEstimateAsync(Shard shard, CancellationToken cancellationToken)
    {
        var position = await ReplicaPromotion.ReadPositionAsync(_databases!.Database(shard.StandbyRegion!, shard.DatabaseName), cancellationToken);
        var estimate = position is null ? new RpoEstimate(false, null, 0, null, "the replica holds no replication position") : ReplicaPromotion.Estimate(position);
        return (estimate, ShardPromotion.Describe(estimate, position));
    }

    public TenantProvisioner Provisioner(IProvisioningProgress progress) =>
        new(store, _databases!, progress, new ProvisioningOptions { ReplicationTimeout = _admin.ReplicationTimeout });

    public TenantReports Reports() => new(store, _databases!);

    public ValueTask DisposeAsync() => Operators?.DisposeAsync() ?? ValueTask.CompletedTask;
}

/// <summary>
/// <c>/admin/tenants</c>: create a tenant (the same resumable steps as <c>geoctl tenant create</c>), undo an
/// unfinished creation, list and show tenants; <c>/admin/operator-keys</c> and <c>/admin/audit</c>
/// (<see cref="OperatorEndpoints"/>). Answers 404 when the admin API is off and 401 without a working operator key.
/// Every change is written to the audit log, and every refused call (capped per source, see <see cref="AdminAudit"/>).
/// </summary>
internal static class AdminEndpoints
{
    public static void Map(WebApplication app)
    {
        var admin = app.MapGroup("/admin").AddEndpointFilter(OperatorOnlyAsync);
        admin.MapPost("/tenants", CreateAsync).WithMetadata(new AdminAction("tenant.create"));
        admin.MapDelete("/tenants/{tenant}/creation", AbortAsync).WithMetadata(new AdminAction("tenant.abort"));
        admin.MapPost("/tenants/{tenant}/key", RotateKeyAsync).WithMetadata(new AdminAction("tenant.key.rotate"));
        admin.MapGet("/tenants", (TenantAdmin tenants, CancellationToken ct) => ReportAsync(tenants, null, ct)).WithMetadata(AdminAction.Read("tenant.read"));
        admin.MapGet("/tenants/{tenant}", (string tenant, TenantAdmin tenants, CancellationToken ct) => ReportAsync(tenants, tenant, ct)).WithMetadata(AdminAction.Read("tenant.read"));
        OperatorEndpoints.Map(admin);
    }

    /// <summary>
    /// Lets only a working operator key through (<c>/admin/...</c>, <c>/directory</c>): 404 while no operator key is
    /// configured, 401 without one, with a wrong one or with a revoked one; audits the call (see <see cref="AdminAction"/>).
    /// </summary>
    public static async ValueTask<object?> OperatorOnlyAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var tenants = http.RequestServices.GetRequiredService<TenantAdmin>();
        if (!tenants.Enabled)
        {
            return Problem(StatusCodes.Status404NotFound, "operator endpoints are off (configure Router:Admin:OperatorKeySha256)");
        }

        var audit = http.RequestServices.GetRequiredService<AdminAudit>();
        var action = http.GetEndpoint()?.Metadata.GetMetadata<AdminAction>() ?? AdminAction.Read("admin.read");
        OperatorIdentity identity;
        try
        {
            identity = await tenants.IdentifyAsync(http.Request, http.RequestAborted);
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException)
        {
            return Problem(StatusCodes.Status502BadGateway, "the directory database (operator keys) cannot be reached");
        }

        var call = new AdminCall(identity.Name ?? OperatorKeys.Unknown, action.Name, AdminCall.SourceOf(http), http.Request.RouteValues["tenant"] as string);
        if (!identity.Authorized)
        {
            var reason = identity.Revoked ? "operator key revoked" : BearerKeys.TryRead(http.Request, out _) ? "wrong operator key" : "no operator key";
            await audit.WriteAsync(call.Record(AuditResults.Refused, reason));
            http.Response.Headers.WWWAuthenticate = "Bearer";
            return Problem(StatusCodes.Status401Unauthorized, "operator endpoints need a working operator key (Authorization: Bearer <key>)");
        }

        http.Items[typeof(AdminCall)] = call;
        object? result;
        try
        {
            result = await next(context);
        }
        catch (Exception ex) when (action.Audited)
        {
            await audit.WriteAsync(call.Record(AuditResults.Failed, $"internal error ({ex.GetType().Name})"));
            throw;
        }

        if (action.Audited)
        {
            await audit.WriteAsync(call.Record(result));
        }

        return result;
    }

    private static async Task<IResult> CreateAsync(AdminTenantBody? body, TenantAdmin tenants, HttpContext context, CancellationToken cancellationToken)
    {
        var call = AdminCall.Of(context);
        call.Tenant = body?.Id;
        call.Detail = new { displayName = body?.DisplayName, shards = body?.Shards?.Select(s => new { home = s.Home, standby = s.Standby }) };
        if (body?.Id is not { Length: > 0 } id || body.Shards is not { Count: > 0 } shards || shards.Any(s => string.IsNullOrEmpty(s.Home)))
        {
            return Problem(StatusCodes.Status400BadRequest, "give id and shards: [{ home, standby }] (standby null for none)");
        }

        var progress = new CollectedProgress();
        try
        {
            var created = await tenants.Provisioner(progress).CreateAsync(id, body.DisplayName ?? id, shards.Select(s => new ShardPlan(s.Home!, s.Standby)).ToList(), cancellationToken);
            return Results.Json(new
            {
                tenant = created.TenantId,
                apiKey = created.ApiKey,
                apiKeyNote = created.ApiKeyNote,
                shards = created.Shards.Select(Describe),
                steps = progress.Lines,
            }, statusCode: created.ApiKey is null ? StatusCodes.Status200OK : StatusCodes.Status201Created);
        }
        catch (Exception ex) when (Failure(ex) is { } status)
        {
            return Problem(status, ex.Message, progress.Lines);
        }
    }

    private static async Task<IResult> RotateKeyAsync(string tenant, TenantAdmin tenants, CancellationToken cancellationToken)
    {
        try
        {
            var key = await tenants.Provisioner(new CollectedProgress()).RotateApiKeyAsync(tenant, cancellationToken);
            return Results.Json(new { tenant, apiKey = key, apiKeyNote = "issued (shown once); the previous key no longer works" });
        }
        catch (Exception ex) when (Failure(ex) is { } status)
        {
            return Problem(status == StatusCodes.Status409Conflict ? StatusCodes.Status404NotFound : status, ex.Message);
        }
    }

    private static async Task<IResult> AbortAsync(string tenant, TenantAdmin tenants, HttpContext context, CancellationToken cancellationToken)
    {
        var progress = new CollectedProgress();
        try
        {
            var removed = await tenants.Provisioner(progress).AbortAsync(tenant, removeTenant: true, cancellationToken);
            AdminCall.Of(context).Detail = new { removedShards = removed };
            return Results.Json(new { tenant, removedShards = removed, steps = progress.Lines });
        }
        catch (Exception ex) when (Failure(ex) is { } status)
        {
            return Problem(status, ex.Message, progress.Lines);
        }
    }

    private static async Task<IResult> ReportAsync(TenantAdmin tenants, string? tenant, CancellationToken cancellationToken)
    {
        try
        {
            var reports = await tenants.Reports().ReadAsync(tenant, cancellationToken);
            var shaped = reports.Select(r => new
            {
                tenant = r.Tenant.Id,
                displayName = r.Tenant.DisplayName,
                shards = r.Shards.Select(s => new
                {
                    shard = Describe(s.Shard),
                    subscribers = s.Subscribers,
                    slot = s.Slot,
                    streaming = s.SlotActive,
                    lagBytes = s.LagBytes,
                    lagSeconds = s.LagSeconds,
                    error = s.Error,
                }),
                nas = r.Nas.Select(n => new { id = n.Id, address = n.Address.ToString(), primary = n.PrimaryRegion, backup = n.BackupRegion }),
            }).ToList();
            return tenant is null ? Results.Json(shaped) : Results.Json(shaped[0]);
        }
        catch (Exception ex) when (Failure(ex) is { } status)
        {
            return Problem(status == StatusCodes.Status409Conflict ? StatusCodes.Status404NotFound : status, ex.Message);
        }
    }

    /// <summary>
    /// The answer to a failed lifecycle step: 409 for the operator's error (with what to do), 502 when a database or
    /// the directory could not be reached; anything else is a bug and stays a 500. The steps done so far go with it.
    /// </summary>
    private static int? Failure(Exception exception) => exception switch
    {
        ProvisioningException => StatusCodes.Status409Conflict,
        Npgsql.NpgsqlException or Schema.Migrations.MigrationException or DirectoryStoreException or KeyNotFoundException or TimeoutException => StatusCodes.Status502BadGateway,
        _ => null,
    };

    private static object Describe(Shard shard) => new
    {
        shard = shard.Key.ToString(),
        owner = shard.OwnerRegion,
        standby = shard.StandbyRegion,
        epoch = shard.Epoch,
        state = ShardStates.ToText(shard.State),
        database = shard.DatabaseName,
    };

    internal static IResult Problem(int status, string detail, IReadOnlyList<string>? steps = null) =>
        Results.Problem(detail: detail, statusCode: status, extensions: steps is null ? null : new Dictionary<string, object?> { ["steps"] = steps });
}
