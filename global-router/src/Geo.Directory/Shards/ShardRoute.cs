using Geo.Directory.Regions;

namespace Geo.Directory.Shards;

/// <summary>Whether a shard can be served now, and by whom.</summary>
public enum RouteStatus
{
    /// <summary>Send it to <see cref="ShardRoute.Owner"/> at <see cref="ShardRoute.Shard"/>'s epoch.</summary>
    Routable,

    /// <summary>The directory has no such shard.</summary>
    UnknownShard,

    /// <summary>The shard is changing hands (promoting, switching, fenced, provisioning): retry shortly.</summary>
    InTransition,

    /// <summary>The owner region is down and the shard was not promoted: retry shortly.</summary>
    OwnerDown,
}

/// <summary>Where requests for a shard go.</summary>
/// <param name="Status">Whether they can go anywhere now.</param>
/// <param name="Shard">The shard (null when unknown).</param>
/// <param name="Owner">Its owner region (null when unknown).</param>
public readonly record struct ShardRoute(RouteStatus Status, Shard? Shard, Region? Owner)
{
    /// <summary>Resolves a shard against a snapshot and the caller's view of region health.</summary>
    public static ShardRoute Resolve(DirectorySnapshot snapshot, ShardKey key, Func<string, bool> isRegionAvailable)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(isRegionAvailable);
        if (!snapshot.TryGetShard(key, out var shard))
        {
            return new ShardRoute(RouteStatus.UnknownShard, null, null);
        }

        if (!snapshot.TryGetRegion(shard.OwnerRegion, out var owner))
        {
            return new ShardRoute(RouteStatus.OwnerDown, shard, null);
        }

        if (!ShardStates.IsRoutable(shard.State))
        {
            return new ShardRoute(RouteStatus.InTransition, shard, owner);
        }

        return isRegionAvailable(owner.Id)
            ? new ShardRoute(RouteStatus.Routable, shard, owner)
            : new ShardRoute(RouteStatus.OwnerDown, shard, owner);
    }
}
