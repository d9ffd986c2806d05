using Microsoft.AspNetCore.Diagnostics;
using Npgsql;

namespace Geo.RegionNode.Api;

/// <summary>The tenant-scoped HTTP API: routes, the tenant key filter, RFC 7807 errors and the OpenAPI document.</summary>
internal static class ApiSetup
{
    public static void AddApi(IServiceCollection services)
    {
        services.AddProblemDetails();
        services.AddOpenApi();
        services.AddSingleton<TenantAccess>();
        services.AddSingleton<ShardAccess>();
        SqlMapping.Register();
    }

    public static void MapApi(WebApplication app)
    {
        app.UseExceptionHandler(new ExceptionHandlerOptions { ExceptionHandler = HandleAsync });
        app.UseStatusCodePages();
        app.MapOpenApi("/openapi/{documentName}.json");
        var tenant = app.MapGroup("/tenants/{tenant}").AddEndpointFilter<TenantAccess>();
        SubscriberEndpoints.Map(tenant);
        BillingEndpoints.Map(tenant);
        PlanEndpoints.Map(tenant);
    }

    /// <summary>Failures below the endpoints as problem details: a moved shard is 409, an unreachable database 503.</summary>
    private static async Task HandleAsync(HttpContext http)
    {
        var error = http.Features.Get<IExceptionHandlerFeature>()?.Error;
        var result = error switch
        {
            StaleEpochException => Results.Problem(statusCode: 409, title: "Stale epoch", detail: "The shard moved to another region; retry through geo-router."),
            PostgresException { SqlState: PostgresErrorCodes.CheckViolation } postgres => Results.Problem(statusCode: 400, title: "Invalid value", detail: postgres.MessageText),
            NpgsqlException or TimeoutException => Results.Problem(statusCode: 503, title: "Database unavailable", detail: "Retry later."),
            BadHttpRequestException bad => Results.Problem(statusCode: bad.StatusCode, title: "Bad request", detail: bad.Message),
            _ => Results.Problem(statusCode: 500, title: "Internal error"),
        };
        await result.ExecuteAsync(http);
    }
}
