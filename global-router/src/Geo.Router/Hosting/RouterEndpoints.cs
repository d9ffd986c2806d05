using Geo.Directory;
using Geo.Directory.Regions;
using Geo.Hosting;
using Geo.Router.Access;
using Geo.Router.Forwarding;
using Geo.Router.Listing;

namespace Geo.Router.Hosting;

/// <summary>
/// The router's paths. Everything under <c>/tenants/</c> is dispatched from the raw request target, decoded once
/// per segment, so that a username holding '/' (sent as %2F) reaches the right subscriber; a path that the server's
/// own decoding (what is forwarded) would read otherwise is refused. The tenant's API key is checked before anything else.
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
        // Every tenant's shards and every region's address: for operators only.
        app.MapGet("/directory", (DirectoryCache directory, RegionHealthMonitor health) => Results.Json(Describe(directory, health)))
            .AddEndpointFilter(AdminEndpoints.OperatorOnlyAsync).WithMetadata(AdminAction.Read("directory.read"));
        app.Map("/tenants/{**rest}", DispatchAsync);
        app.MapFallback(context => Problems.WriteAsync(context, StatusCodes.Status404NotFound,
            "no such path: the router serves /tenants/{tenant}/subscribers[/{username}...], /health/live, /health/ready and /metrics"));
    }

    private static async Task DispatchAsync(HttpContext context)
    {
        var segments = Segments(RawPath(context));
        if (segments.Any(s => s is "." or ".."))
        {
            await Problems.WriteAsync(context, StatusCodes.Status400BadRequest, "the path must not hold '.' or '..' segments: name the resource directly");
            return;
        }

        if (!segments.AsSpan().SequenceEqual(Segments(context.Request.Path.Value ?? "")))
        {
            // The region is sent Request.Path (as the server decoded it), so routing on anything else could route one
            // resource and serve another: a path that decodes differently the second time is refused.
            await Problems.WriteAsync(context, StatusCodes.Status400BadRequest, "the path is percent-encoded twice over (e.g. %252F): encode each segment once");
            return;
        }

        if (segments is not ["tenants", var tenant, "subscribers", ..] || tenant.Length == 0)
        {
            await Problems.WriteAsync(context, StatusCodes.Status404NotFound, "the router serves /tenants/{tenant}/subscribers[/{username}...]");
            return;
        }

        // The key first: nothing of the tenant's is read or written for a caller that has not shown it.
        switch (context.RequestServices.GetRequiredService<TenantAuthenticator>().Check(context.Request, tenant))
        {
            case TenantAccess.NoKey:
                await Problems.UnauthorizedAsync(context);
                return;
            case TenantAccess.NotFound:
                await Problems.NotFoundAsync(context);
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

        if (!Usernames.IsValid(segments[3]))
        {
            await Problems.WriteAsync(context, StatusCodes.Status400BadRequest, $"the path's username is not valid: {Usernames.Rule}");
            return;
        }

        await context.RequestServices.GetRequiredService<SubscriberProxy>().ForwardAsync(context, tenant, segments[3]);
    }

    private static string RawPath(HttpContext context)
    {
        var raw = context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget ?? context.Request.Path.Value ?? "";
        var query = raw.IndexOf('?', StringComparison.Ordinal);
        return query >= 0 ? raw[..query] : raw;
    }

    private static string[] Segments(string path) => path.TrimStart('/').Split('/').Select(Uri.UnescapeDataString).ToArray();

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
