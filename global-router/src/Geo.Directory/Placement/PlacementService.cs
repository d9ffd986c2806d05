using Geo.Directory.Shards;

namespace Geo.Directory.Placement;

/// <summary>
/// Chooses a new subscriber's home region and writes the placement before the row exists, so a lookup never points
/// nowhere. A placement whose row is never created is harmless and removed by <see cref="OrphanPlacementSweeper"/>.
/// </summary>
public sealed class PlacementService
{
    private readonly DirectoryCache _cache;

    /// <summary>A placement service writing through <paramref name="cache"/>'s store.</summary>
    public PlacementService(DirectoryCache cache)
    {
        ArgumentNullException.ThrowIfNull(cache);
        _cache = cache;
    }

    /// <summary>
    /// The home region for a new subscriber: the region asked for; else the primary region of the NAS (or POP)
    /// it belongs to; else the tenant's only shard. The region must hold a shard of the tenant.
    /// </summary>
    public PlacementChoice Choose(string tenantId, string? region, string? nasId)
    {
        var snapshot = _cache.Current;
        if (!snapshot.TryGetTenant(tenantId, out _))
        {
            return PlacementChoice.Fail(PlacementStatus.UnknownTenant, $"unknown tenant '{tenantId}'");
        }

        string home;
        if (!string.IsNullOrEmpty(region))
        {
            home = region;
        }
        else if (!string.IsNullOrEmpty(nasId))
        {
            if (!snapshot.TryGetNas(tenantId, nasId, out var nas))
            {
                return PlacementChoice.Fail(PlacementStatus.UnknownNas, $"tenant '{tenantId}' has no NAS '{nasId}'");
            }

            home = nas.PrimaryRegion;
        }
        else if (snapshot.ShardsOf(tenantId).Where(s => TakesNewSubscribers(s.State)).ToList() is [var only])
        {
            // New subscribers go to shards in service only: not to one being created or retired.
            home = only.Key.HomeRegion;
        }
        else
        {
            return PlacementChoice.Fail(PlacementStatus.RegionRequired, "name a 'region' or a 'nasId': the tenant is homed in several regions");
        }

        if (!snapshot.TryGetShard(new ShardKey(tenantId, home), out var shard))
        {
            return PlacementChoice.Fail(PlacementStatus.UnknownRegion, $"tenant '{tenantId}' has no shard in region '{home}'");
        }

        return TakesNewSubscribers(shard.State)
            ? new PlacementChoice(PlacementStatus.Chosen, home, null)
            : PlacementChoice.Fail(PlacementStatus.UnknownRegion, $"tenant '{tenantId}''s shard in region '{home}' is {ShardStates.ToText(shard.State)}, not taking new subscribers");
    }

    /// <summary>A shard being created or retired takes no new subscribers; one in a DR transition does once it is over (routing answers 503 meanwhile).</summary>
    private static bool TakesNewSubscribers(ShardState state) => state is not (ShardState.Provisioning or ShardState.Retiring);

    /// <summary>
    /// Writes the placement (an existing placement of the username wins) and remembers it in this process at
    /// once. Returns the placement that holds.
    /// </summary>
    public async Task<PlacementWrite> WriteAsync(string tenantId, string username, string homeRegion, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(username);
        var write = await _cache.Store.TryAddPlacementAsync(tenantId, username, homeRegion, cancellationToken);
        _cache.RememberPlacement(write.Placement);
        return write;
    }

    /// <summary>
    /// Takes back a placement this process created for a create that was then refused: removes it only if it is still
    /// the one written then (same creation time), from the store and from this process's memory at once.
    /// Returns false when it was gone or replaced.
    /// </summary>
    public async Task<bool> UndoAsync(PlacementWrite write, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(write);
        if (!write.Created)
        {
            throw new ArgumentException("only a placement this write created can be taken back", nameof(write));
        }

        var placement = write.Placement;
        if (!await _cache.Store.DeletePlacementAsync(placement.TenantId, placement.Username, placement.CreatedAt, cancellationToken))
        {
            return false;
        }

        _cache.Current.Placements.Remove(placement.TenantId, placement.Username);
        return true;
    }
}

/// <summary>Whether a home region could be chosen.</summary>
public enum PlacementStatus
{
    /// <summary>Chosen: <see cref="PlacementChoice.HomeRegion"/>.</summary>
    Chosen,

    /// <summary>No such tenant.</summary>
    UnknownTenant,

    /// <summary>The region asked for (or the NAS's region) holds no shard of the tenant.</summary>
    UnknownRegion,

    /// <summary>The tenant has no such NAS.</summary>
    UnknownNas,

    /// <summary>Neither a region nor a NAS was named, and the tenant has several shards.</summary>
    RegionRequired,
}

/// <summary>The outcome of choosing a home region.</summary>
/// <param name="Status">Whether one was chosen.</param>
/// <param name="HomeRegion">The region, when chosen.</param>
/// <param name="Error">Why not, for the caller's error response.</param>
public sealed record PlacementChoice(PlacementStatus Status, string? HomeRegion, string? Error)
{
    internal static PlacementChoice Fail(PlacementStatus status, string error) => new(status, null, error);
}
