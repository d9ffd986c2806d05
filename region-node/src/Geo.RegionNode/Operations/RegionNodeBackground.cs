using Geo.RegionNode.Caching;
using Geo.RegionNode.Shards;

namespace Geo.RegionNode.Operations;

/// <summary>Keeps the shard map current and builds the Redis session index once the map is known.</summary>
internal sealed class RegionNodeBackground(ShardCatalog catalog, RedisRegionCache cache) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var refresh = catalog.RunAsync(stoppingToken);
        await catalog.FirstLoad.WaitAsync(stoppingToken);
        await cache.RebuildSessionIndexAsync();
        try
        {
            await refresh;
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
