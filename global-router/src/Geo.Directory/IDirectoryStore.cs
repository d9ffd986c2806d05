using Geo.Directory.Nas;
using Geo.Directory.Placement;
using Geo.Directory.Recovery;
using Geo.Directory.Regions;
using Geo.Directory.Shards;
using Geo.Directory.Tenants;

namespace Geo.Directory;

/// <summary>
/// Where the directory lives: PostgreSQL (<see cref="Stores.Postgres.PostgresDirectoryStore"/>, the embedded
/// default) or Consul (<see cref="Stores.Consul.ConsulDirectoryStore"/>, production). Every change of a shard's
/// owner, standby or state is a compare-and-set on its epoch, so that of two concurrent attempts exactly one wins.
/// </summary>
public interface IDirectoryStore : IAsyncDisposable
{
    /// <summary>Loads regions, tenants, shards and NAS devices as one consistent view.</summary>
    Task<DirectoryData> LoadAsync(CancellationToken cancellationToken);

    /// <summary>Loads every placement into <paramref name="target"/>.</summary>
    Task LoadPlacementsAsync(PlacementIndex target, CancellationToken cancellationToken);

    /// <summary>Reads one placement from the store (for a placement written a moment ago by another process).</summary>
    Task<SubscriberPlacement?> GetPlacementAsync(string tenantId, string username, CancellationToken cancellationToken);

    /// <summary>
    /// Opens a change feed. Open it before loading: a change between the load and the first wait is then
    /// reported, never lost. A feed that fails (connection lost) throws from <see cref="IDirectoryWatch.WaitAsync"/>;
    /// the caller opens a new one and loads again.
    /// </summary>
    Task<IDirectoryWatch> WatchAsync(CancellationToken cancellationToken);

    /// <summary>Compare-and-set on the epoch: applies <paramref name="update"/> and raises the epoch only if it is still <paramref name="expectedEpoch"/>.</summary>
    Task<ShardUpdateResult> TryUpdateShardAsync(ShardKey key, long expectedEpoch, ShardUpdate update, CancellationToken cancellationToken);

    /// <summary>Takes or renews a shard's lease for <paramref name="holder"/> unless another holder's lease is still running (epoch unchanged).</summary>
    Task<ShardUpdateResult> TryAcquireLeaseAsync(ShardKey key, string holder, TimeSpan duration, CancellationToken cancellationToken);

    /// <summary>Gives a lease back; false when <paramref name="holder"/> did not hold it.</summary>
    Task<bool> ReleaseLeaseAsync(ShardKey key, string holder, CancellationToken cancellationToken);

    /// <summary>
    /// Grants or renews, for <paramref name="region"/>, the owner lease of each listed shard whose directory row still has
    /// owner region = <paramref name="region"/>, epoch = the given epoch and state active or retiring; expiry = directory
    /// now + <paramref name="ttl"/>. Shards not matching are simply absent from <see cref="OwnerLeaseRenewal.Granted"/>
    /// (the caller fences them). One round trip for all shards (Consul: one read and one transaction per 64 shards).
    /// </summary>
    /// <remarks>
    /// Renewals change no shard and wake no directory watch. A renewal is ordered with every change of the shard's row
    /// (PostgreSQL: it locks the row <c>FOR SHARE</c>; Consul: it checks the row's ModifyIndex in the same
    /// transaction), so once a change of epoch, owner or state has committed, no lease at the old epoch is extended
    /// any more: a lease read after the change shows the last expiry granted at the old epoch.
    /// </remarks>
    Task<OwnerLeaseRenewal> RenewOwnerLeasesAsync(string region, IReadOnlyList<(ShardKey Key, long Epoch)> shards, TimeSpan ttl, CancellationToken cancellationToken);

    /// <summary>Every owner lease (expired ones too), and the directory's clock.</summary>
    Task<OwnerLeaseView> LoadOwnerLeasesAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Gives back the owner leases a region holds (graceful shutdown): they expire now; leases expired already keep their
    /// expiry. The leases are the region's, not a node's: another node of the region that still renews takes them again.
    /// </summary>
    Task ReleaseOwnerLeasesAsync(string region, CancellationToken cancellationToken);

    /// <summary>
    /// Appends an event to the DR log; returns it with its id and time (those of <paramref name="drEvent"/> are
    /// ignored). Throws <see cref="ArgumentException"/> for an event outside the rules of <see cref="DrEvent"/>.
    /// </summary>
    Task<DrEvent> AppendDrEventAsync(DrEvent drEvent, CancellationToken cancellationToken);

    /// <summary>The newest <paramref name="limit"/> events (of one shard when <paramref name="shard"/> is given), oldest first.</summary>
    Task<IReadOnlyList<DrEvent>> ListDrEventsAsync(ShardKey? shard, int limit, CancellationToken cancellationToken);

    /// <summary>Creates or updates a region.</summary>
    Task UpsertRegionAsync(Region region, CancellationToken cancellationToken);

    /// <summary>Creates or updates a tenant.</summary>
    Task UpsertTenantAsync(Tenant tenant, CancellationToken cancellationToken);

    /// <summary>Creates a shard unless it exists (an existing one keeps its owner and epoch); returns the stored shard.</summary>
    Task<Shard> CreateShardAsync(Shard shard, CancellationToken cancellationToken);

    /// <summary>
    /// A lifecycle step (provisioning to active, active to retiring): changes the state only if it is still
    /// <paramref name="expected"/>. Owner and epoch stay as they are: the shard's writers are not fenced by it.
    /// </summary>
    Task<ShardUpdateResult> TrySetShardStateAsync(ShardKey key, ShardState expected, ShardState state, CancellationToken cancellationToken);

    /// <summary>Removes a shard in state provisioning or retiring, with any placement left on it; false when there was none.</summary>
    Task<bool> DeleteShardAsync(ShardKey key, CancellationToken cancellationToken);

    /// <summary>Removes a tenant that has no shard left, with its NAS devices; false when there was none.</summary>
    Task<bool> DeleteTenantAsync(string tenantId, CancellationToken cancellationToken);

    /// <summary>
    /// Stores the SHA-256 of a tenant's API key (the key itself is never stored). With <paramref name="onlyIfUnset"/>
    /// an existing key is kept and false returned.
    /// </summary>
    Task<bool> SetTenantApiKeyHashAsync(string tenantId, byte[] sha256, bool onlyIfUnset, CancellationToken cancellationToken);

    /// <summary>Creates or updates a NAS device.</summary>
    Task UpsertNasAsync(NasDevice nas, CancellationToken cancellationToken);

    /// <summary>Removes a NAS device; false when there was none.</summary>
    Task<bool> DeleteNasAsync(string tenantId, string nasId, CancellationToken cancellationToken);

    /// <summary>
    /// Places a subscriber unless it is placed already; returns the placement that holds afterwards (an
    /// existing one wins, whatever region was asked for).
    /// </summary>
    Task<PlacementWrite> TryAddPlacementAsync(string tenantId, string username, string homeRegion, CancellationToken cancellationToken);

    /// <summary>Removes a placement (only the one created at <paramref name="createdAt"/>, when given); false when nothing was removed.</summary>
    Task<bool> DeletePlacementAsync(string tenantId, string username, DateTimeOffset? createdAt, CancellationToken cancellationToken);

    /// <summary>Placements created in [<paramref name="createdFrom"/>, <paramref name="createdBefore"/>), in a stable order, after <paramref name="after"/>.</summary>
    Task<IReadOnlyList<SubscriberPlacement>> ListPlacementsCreatedBetweenAsync(
        DateTimeOffset createdFrom, DateTimeOffset createdBefore, SubscriberPlacement? after, int limit, CancellationToken cancellationToken);
}

/// <summary>A change feed of a directory store.</summary>
public interface IDirectoryWatch : IAsyncDisposable
{
    /// <summary>Waits until something changed and says what; throws when the feed is broken.</summary>
    Task<DirectoryChange> WaitAsync(CancellationToken cancellationToken);
}

/// <summary>What changed in the directory.</summary>
/// <param name="ControlPlane">Regions, tenants, shards, NAS devices or region health: reload them.</param>
/// <param name="PlacementsReset">Placements changed wholesale: reload them all.</param>
/// <param name="Placements">Individual placement changes, in order.</param>
public sealed record DirectoryChange(bool ControlPlane, bool PlacementsReset, IReadOnlyList<PlacementChange> Placements);

/// <summary>The placement that holds after a write, and whether this write created it.</summary>
/// <param name="Placement">The stored placement.</param>
/// <param name="Created">False when the subscriber was placed already.</param>
public sealed record PlacementWrite(SubscriberPlacement Placement, bool Created);
