using Geo.Directory;
using Geo.Directory.Shards;
using Geo.Hosting;
using Geo.Provisioning;
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

/// <summary>What the admin API works with: the directory store and each region's PostgreSQL server.</summary>
internal sealed class TenantAdmin(IDirectoryStore store, IOptions<RouterOptions> options)
{
    private readonly AdminOptions _admin = options.Value.Admin;
    private readonly byte[] _operatorKeyHash = options.Value.Admin.Enabled ? Convert.FromHexString(options.Value.Admin.OperatorKeySha256) : [];
    // The provisioner reaches the directory through the store (PostgreSQL or Consul); only the servers are used from here.
    private readonly PlatformDatabases? _databases = options.Value.Admin.Enabled
        ? new PlatformDatabases(options.Value.DirectoryConnectionString ?? "(directory in Consul)", options.Value.Admin.Servers)
        : null;

    public bool Enabled => _admin.Enabled;

    public bool IsOperator(HttpRequest request) => BearerKeys.Authorizes(request, _operatorKeyHash);

    public TenantProvisioner Provisioner(IProvisioningProgress progress) =>
        new(store, _databases!, progress, new ProvisioningOptions { ReplicationTimeout = _admin.ReplicationTimeout });

    public TenantReports Reports() => new(store, _databases!);
}

/// <summary>
/// <c>/admin/tenants</c>: create a tenant (the same resumable steps as <c>geoctl tenant create</c>), undo an
/// unfinished creation, list and show tenants. Answers 404 when the admin API is off and 401 without the operator key.
/// </summary>
internal static class AdminEndpoints
{
    public static void Map(WebApplication app)
    {
        var admin = app.MapGroup("/admin").AddEndpointFilter(OperatorOnlyAsync);
        admin.MapPost("/tenants", CreateAsync);
        admin.MapDelete("/tenants/{tenant}/creation", AbortAsync);
        admin.MapPost("/tenants/{tenant}/key", RotateKeyAsync);
        admin.MapGet("/tenants", (TenantAdmin tenants, CancellationToken ct) => ReportAsync(tenants, null, ct));
        admin.MapGet("/tenants/{tenant}", (string tenant, TenantAdmin tenants, CancellationToken ct) => ReportAsync(tenants, tenant, ct));
    }

    /// <summary>
    /// Lets only the operator key through (<c>/admin/...</c>, <c>/directory</c>): 404 while no operator key is configured,
    /// 401 without it.
    /// </summary>
    public static async ValueTask<object?> OperatorOnlyAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var tenants = context.HttpContext.RequestServices.GetRequiredService<TenantAdmin>();
        if (!tenants.Enabled)
        {
            return Problem(StatusCodes.Status404NotFound, "operator endpoints are off (configure Router:Admin:OperatorKeySha256)");
        }

        if (!tenants.IsOperator(context.HttpContext.Request))
        {
            context.HttpContext.Response.Headers.WWWAuthenticate = "Bearer";
            return Problem(StatusCodes.Status401Unauthorized, "operator endpoints need the operator key (Authorization: Bearer <key>)");
        }

        return await next(context);
    }

    private static async Task<IResult> CreateAsync(AdminTenantBody? body, TenantAdmin tenants, CancellationToken cancellationToken)
    {
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

    private static async Task<IResult> AbortAsync(string tenant, TenantAdmin tenants, CancellationToken cancellationToken)
    {
        var progress = new CollectedProgress();
        try
        {
            var removed = await tenants.Provisioner(progress).AbortAsync(tenant, removeTenant: true, cancellationToken);
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

    private static IResult Problem(int status, string detail, IReadOnlyList<string>? steps = null) =>
        Results.Problem(detail: detail, statusCode: status, extensions: steps is null ? null : new Dictionary<string, object?> { ["steps"] = steps });
}
