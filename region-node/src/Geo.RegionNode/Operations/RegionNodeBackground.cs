using Geo.RegionNode.Caching;
using Geo.RegionNode.Shards;
using Microsoft.Extensions.Options;

namespace Geo.RegionNode.Operations;

/// <summary>
/// Keeps the shard map current, renews the owner leases of the shards it names, and builds the Redis session index once
/// the map is known.
/// </summary>
internal sealed class RegionNodeBackground(
    ShardCatalog catalog, OwnerLeases leases, DirectoryFailsafe failsafe, RedisRegionCache cache, IOptions<RegionNodeOptions> options, TimeProvider time)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var refresh = catalog.RunAsync(stoppingToken);
        var renew = RenewAsync(stoppingToken);
        try
        {
            await catalog.FirstLoad.WaitAsync(stoppingToken);
            await cache.RebuildSessionIndexAsync();
            await Task.WhenAll(refresh, renew);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task RenewAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.LeaseRenewInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            // Also with no shard: the round trip tells whether this node reaches the directory (asked by peers).
            if (!await leases.RenewAsync(catalog.Shards, stoppingToken))
            {
                await failsafe.HoldAsync(catalog.Shards, stoppingToken);
            }
        }
    }
}
