using Geo.Directory;
using Geo.Directory.Regions;
using Geo.Hosting;
using Geo.Router.Forwarding;
using Geo.Router.Listing;

namespace Geo.Router.Hosting;

/// <summary>
/// The router's paths. Everything under <c>/tenants/</c> is dispatched from the raw request target, decoded once
/// per segment, so that a username holding '/' (sent as %2F) reaches the right subscriber.
/// </summary>
internal static class RouterEndpoints
{
    public static void Map(WebApplication app)
    {
        GeoService.MapHealth(app, context =>
        {
            var loaded = context.RequestServices.GetRequiredService<DirectoryCache>().Current.Version > 0;
            return Task.FromResult(new HealthReport(loaded, new Dictionary<string, object?> { ["directory"] = loaded ? "ok" : "not_loaded" }));
        });
        app.MapGet("/directory", (DirectoryCache directory, RegionHealthMonitor health) => Results.Json(Describe(directory, health)));
        app.Map("/tenants/{**rest}", DispatchAsync);
    }

    private static async Task DispatchAsync(HttpContext context)
    {
        var segments = Segments(context);
        if (segments is not ["tenants", var tenant, "subscribers", ..] || tenant.Length == 0)
        {
            await Problems.WriteAsync(context, StatusCodes.Status404NotFound, "the router serves /tenants/{tenant}/subscribers[/{username}...]");
            return;
        }

        if (segments.Length == 3 || (segments.Length == 4 && segments[3].Length == 0))
        {
            if (HttpMethods.IsGet(context.Request.Method))
            {
                await context.RequestServices.GetRequiredService<SubscriberListing>().ListAsync(context, tenant);
            }
            else if (HttpMethods.IsPost(context.Request.Method))
            {
                await context.RequestServices.GetRequiredService<SubscriberProxy>().CreateAsync(context, tenant);
            }
            else
            {
                context.Response.Headers.Allow = "GET, POST";
                await Problems.WriteAsync(context, StatusCodes.Status405MethodNotAllowed, "a tenant's subscribers are listed (GET) or created (POST)");
            }

            return;
        }

        await context.RequestServices.GetRequiredService<SubscriberProxy>().ForwardAsync(context, tenant, segments[3]);
    }

    private static string[] Segments(HttpContext context)
    {
        var raw = context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget ?? context.Request.Path.Value ?? "";
        var query = raw.IndexOf('?', StringComparison.Ordinal);
        var path = query >= 0 ? raw[..query] : raw;
        return path.TrimStart('/').Split('/').Select(Uri.UnescapeDataString).ToArray();
    }

    private static object Describe(DirectoryCache directory, RegionHealthMonitor health)
    {
        var snapshot = directory.Current;
        return new
        {
            version = snapshot.Version,
            connected = directory.IsConnected,
            placements = snapshot.Placements.Count,
            regions = snapshot.Regions.Select(r => new { id = r.Id, apiUrl = r.ApiUrl, health = health.HealthOf(r.Id).ToString() }),
            shards = snapshot.Shards.Select(s => new
            {
                shard = s.Key.ToString(),
                owner = s.OwnerRegion,
                standby = s.StandbyRegion,
                epoch = s.Epoch,
                state = s.State.ToString(),
            }),
        };
    }
}
