using Geo.Hosting;
using Geo.RegionNode.Caching;
using Geo.RegionNode.Shards;
using Geo.RegionNode.Survival;
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
            var leases = services.GetRequiredService<OwnerLeases>();
            var refreshedAgo = catalog.LastRefreshAt is { } at ? time.GetUtcNow() - at : (TimeSpan?)null;
            var directory = refreshedAgo is { } ago && ago < options.Value.RefreshInterval * 5;
            var fenced = catalog.Shards.Where(s => !s.HoldsLease).Select(s => s.ToString()).ToList();
            var redis = options.Value.RedisEndpoint.Length == 0 ? "disabled" : cache.SessionIndexValid ? "ok" : "degraded";
            var ready = radius.Listening && postgres && directory;
            var report = new Dictionary<string, object?>
            {
                ["region"] = options.Value.RegionId,
                ["listeners"] = radius.Listening ? "ok" : "down",
                ["postgres"] = postgres ? "ok" : "down",
                ["directory"] = directory ? "ok" : "stale",
                // Shards owned here whose owner lease this node does not hold: it acknowledges nothing for them.
                ["fenced_shards"] = fenced.Count,
                ["leases"] = leases.DirectoryReachable ? "renewing" : "not renewing",
                // Redis is a cache: without it the node answers from PostgreSQL, so it never makes the node unready.
                ["redis"] = redis,
                // Answering for unreachable owners (from replicas and the journal): never a reason to be unready.
                ["survivability"] = Survivability(services),
            };
            if (ManagementListener.IsManagement(context))
            {
                // Which tenants' shards this node serves is for operators only, like the metrics.
                report["shards"] = catalog.Shards.Select(s => new { shard = s.ToString(), epoch = s.Epoch, lease = s.HoldsLease ? "held" : "fenced" }).ToArray();
            }

            return new HealthReport(ready, report);
        });
    }

    /// <summary>
    /// <c>GET /internal/directory</c>: whether this node reaches the directory now. Asked by the owner region of a shard
    /// this region stands by for when the owner cannot renew its leases (failsafe): while the standby cannot reach the
    /// directory either, nobody can promote, and the owner keeps serving. Says nothing about tenants or subscribers.
    /// </summary>
    public static void MapFailsafe(WebApplication app) =>
        app.MapGet(DirectoryFailsafe.Path, (OwnerLeases leases, IOptions<RegionNodeOptions> options) =>
            Results.Json(new DirectoryFailsafe.Answer(options.Value.RegionId, leases.DirectoryReachable)));

    private static Dictionary<string, object?> Survivability(IServiceProvider services)
    {
        var journal = services.GetRequiredService<SurvivalJournal>();
        return new Dictionary<string, object?>
        {
            ["replicas"] = services.GetRequiredService<ShardCatalog>().Replicas.Count,
            ["owners_down"] = services.GetRequiredService<OwnerHealth>().DownRegions,
            ["journal"] = journal.Ready ? "ok" : "unavailable",
            ["journal_depth"] = journal.Depth,
            ["journal_oldest_age_seconds"] = Math.Round(journal.OldestAgeSeconds, 1),
        };
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
