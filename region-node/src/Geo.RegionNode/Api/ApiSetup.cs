using Geo.Hosting;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;

namespace Geo.RegionNode.Api;

/// <summary>The tenant-scoped HTTP API: routes, the tenant key filter, RFC 7807 errors and the OpenAPI document.</summary>
internal static class ApiSetup
{
    public static void AddApi(IServiceCollection services)
    {
        services.AddProblemDetails(problems => problems.CustomizeProblemDetails = context =>
        {
            // The framework answers a body over the limit itself (an empty 413 that status code pages fill): say what the limit is.
            if (context.ProblemDetails.Status == StatusCodes.Status413PayloadTooLarge && context.ProblemDetails.Detail is null)
            {
                context.ProblemDetails.Title = ApiErrors.BodyTooLargeTitle;
                context.ProblemDetails.Detail = ApiErrors.BodyTooLarge(
                    context.HttpContext.RequestServices.GetRequiredService<IOptions<RegionNodeOptions>>().Value.MaxRequestBodyBytes);
            }
        });
        services.AddOpenApi();
        services.AddSingleton<TenantAccess>();
        services.AddSingleton<ShardAccess>();
        services.AddSingleton<IdempotencyKeys>();
        // Bad input (malformed JSON, a missing body, a body too large) reaches HandleAsync as BadHttpRequestException,
        // instead of an empty 400 written by the framework.
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.AddOptions<KestrelServerOptions>().Configure<IOptions<RegionNodeOptions>>((kestrel, node) =>
            kestrel.Limits.MaxRequestBodySize = node.Value.MaxRequestBodyBytes);
        SqlMapping.Register();
    }

    public static void MapApi(WebApplication app)
    {
        app.UseExceptionHandler(new ExceptionHandlerOptions { ExceptionHandler = HandleAsync });
        app.UseStatusCodePages();
        // The document lists every route of every tenant: operators read it on the management listener, not the public one.
        app.MapOpenApi("/openapi/{documentName}.json").RequireManagementListener();
        var tenant = app.MapGroup("/tenants/{tenant}").AddEndpointFilter<TenantAccess>().AddEndpointFilter<TextInput>();
        SubscriberEndpoints.Map(tenant);
        BillingEndpoints.Map(tenant);
        PlanEndpoints.Map(tenant);
    }

    /// <summary>Failures below the endpoints as problem details (<see cref="ApiErrors"/>).</summary>
    private static Task HandleAsync(HttpContext http) =>
        ApiErrors.ToResult(http.Features.Get<IExceptionHandlerFeature>()?.Error,
            http.RequestServices.GetRequiredService<IOptions<RegionNodeOptions>>().Value.MaxRequestBodyBytes).ExecuteAsync(http);
}
