using Geo.Hosting;
using Geo.RegionNode.Caching;
using Geo.RegionNode.Shards;
using Geo.RegionNode.Transport;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Geo.RegionNode.Operations;

/// <summary><c>/health/live</c>, <c>/health/ready</c> and, on the management listener only, <c>/metrics</c> (Geo.Hosting's formats).</summary>
internal static class HealthEndpoints
{
    public static void Map(WebApplication app)
    {
        // The series name every tenant's shards: operators scrape them on the management listener.
        GeoService.MapMetrics(app).RequireManagementListener();
        GeoService.MapHealth(app, async context =>
        {
            var services = context.RequestServices;
            var radius = services.GetRequiredService<RadiusServer>();
            var catalog = services.GetRequiredService<ShardCatalog>();
            var cache = services.GetRequiredService<RedisRegionCache>();
            var options = services.GetRequiredService<IOptions<RegionNodeOptions>>();
            var time = services.GetRequiredService<TimeProvider>();
            var cancellationToken = context.RequestAborted;
            var postgres = await CheckPostgresAsync(catalog, cancellationToken);
            var refreshedAgo = catalog.LastRefreshAt is { } at ? time.GetUtcNow() - at : (TimeSpan?)null;
            var directory = refreshedAgo is { } ago && ago < options.Value.RefreshInterval * 5;
            var redis = options.Value.RedisEndpoint.Length == 0 ? "disabled" : cache.SessionIndexValid ? "ok" : "degraded";
            var ready = radius.Listening && postgres && directory;
            var report = new Dictionary<string, object?>
            {
                ["region"] = options.Value.RegionId,
                ["listeners"] = radius.Listening ? "ok" : "down",
                ["postgres"] = postgres ? "ok" : "down",
                ["directory"] = directory ? "ok" : "stale",
                // Redis is a cache: without it the node answers from PostgreSQL, so it never makes the node unready.
                ["redis"] = redis,
            };
            if (ManagementListener.IsManagement(context))
            {
                // Which tenants' shards this node serves is for operators only, like the metrics.
                report["shards"] = catalog.Shards.Select(s => new { shard = s.ToString(), epoch = s.Epoch }).ToArray();
            }

            return new HealthReport(ready, report);
        });
    }

    private static async Task<bool> CheckPostgresAsync(ShardCatalog catalog, CancellationToken cancellationToken)
    {
        try
        {
            foreach (var shard in catalog.Shards)
            {
                await using var connection = await shard.DataSource.OpenConnectionAsync(cancellationToken);
                await using var command = new NpgsqlCommand("SELECT 1", connection);
                await command.ExecuteScalarAsync(cancellationToken);
            }

            return catalog.FirstLoad.IsCompletedSuccessfully;
        }
        catch (NpgsqlException)
        {
            return false;
        }
    }
}
