using System.Globalization;
using Geo.RegionNode.Shards;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Geo.RegionNode.Api;

/// <summary>
/// Finds the shard of a subscriber for an API call and guards every write with the shard's fence:
/// a call for a shard another region owns gets 421 naming the owner's home region; a call carrying a
/// <c>Geo-Epoch</c> that is not this node's gets 409; a write whose transaction finds the fence moved is refused.
/// </summary>
internal sealed class ShardAccess(ShardCatalog catalog, SubscriberLocator locator, OwnerLeases leases, IOptions<RegionNodeOptions> options)
{
    public const string EpochHeader = "Geo-Epoch";
    public const string RegionHeader = "Geo-Region";

    public string RegionId => options.Value.RegionId;

    /// <summary>The owned shard of a subscriber, or the error to answer with.</summary>
    public async Task<(ShardHandle? Shard, IResult? Error)> ForSubscriberAsync(HttpContext http, string tenant, string username, CancellationToken cancellationToken)
    {
        var home = await locator.HomeRegionAsync(tenant, username, cancellationToken);
        return home is null ? (null, Results.Problem(statusCode: 404, title: "Subscriber not found")) : ForHome(http, tenant, home);
    }

    /// <summary>The owned shard homed in <paramref name="home"/>, or the error to answer with.</summary>
    public (ShardHandle? Shard, IResult? Error) ForHome(HttpContext http, string tenant, string home)
    {
        if (catalog.Shard(tenant, home) is not { } shard)
        {
            return (null, Results.Problem(statusCode: 421, title: "Shard served by another region",
                detail: $"The shard {tenant}@{home} is not owned by region {RegionId}; send the call through geo-router."));
        }

        if (!shard.HoldsLease)
        {
            leases.CountFenced(shard);
            return (null, ApiErrors.Fenced(shard.ToString()));
        }

        if (http.Request.Headers.TryGetValue(EpochHeader, out var sent) && long.TryParse(sent, NumberStyles.None, CultureInfo.InvariantCulture, out var epoch) && epoch != shard.Epoch)
        {
            return (null, Results.Problem(statusCode: 409, title: "Stale epoch",
                detail: $"The call carries epoch {epoch} of {tenant}@{home}; this region holds epoch {shard.Epoch}."));
        }

        http.Response.Headers[RegionHeader] = RegionId;
        http.Response.Headers[EpochHeader] = shard.Epoch.ToString(CultureInfo.InvariantCulture);
        return (shard, null);
    }

    /// <summary>Runs a write in a transaction that first checks this node still holds the shard's epoch.</summary>
    public static async Task<T> WriteAsync<T>(ShardHandle shard, Func<NpgsqlConnection, NpgsqlTransaction, Task<T>> write, CancellationToken cancellationToken)
    {
        if (!shard.HoldsLease)
        {
            throw new ShardFencedException(shard.ToString());
        }

        await using var connection = await shard.DataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var fence = new NpgsqlCommand("SELECT epoch FROM shard_fence FOR SHARE", connection, transaction))
        {
            if (await fence.ExecuteScalarAsync(cancellationToken) is not long epoch || epoch != shard.Epoch)
            {
                throw new StaleEpochException();
            }
        }

        var result = await write(connection, transaction);
        if (!shard.HoldsLease)
        {
            // The lease ran out while writing: rolled back rather than committed after another region may own the shard.
            throw new ShardFencedException(shard.ToString());
        }

        await transaction.CommitAsync(cancellationToken);
        return result;
    }
}

/// <summary>The shard's fence is no longer at this node's epoch: the shard moved.</summary>
internal sealed class StaleEpochException : Exception
{
    public StaleEpochException() : base("this region no longer holds the shard's epoch")
    {
    }
}

/// <summary>This node does not hold the shard's owner lease: nothing is written (503, Retry-After).</summary>
internal sealed class ShardFencedException(string shard) : Exception($"this node does not hold the owner lease of {shard}")
{
    public string Shard { get; } = shard;
}
