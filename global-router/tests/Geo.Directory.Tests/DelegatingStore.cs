using Geo.Directory.Nas;
using Geo.Directory.Placement;
using Geo.Directory.Recovery;
using Geo.Directory.Regions;
using Geo.Directory.Shards;
using Geo.Directory.Tenants;

namespace Geo.Directory.Tests;

/// <summary>A store that passes everything to another; tests override what they need to break or count.</summary>
internal class DelegatingStore(IDirectoryStore inner) : IDirectoryStore
{
    protected IDirectoryStore Inner => inner;

    public virtual Task<DirectoryData> LoadAsync(CancellationToken cancellationToken) => inner.LoadAsync(cancellationToken);

    public Task LoadPlacementsAsync(PlacementIndex target, CancellationToken cancellationToken) => inner.LoadPlacementsAsync(target, cancellationToken);

    public Task<SubscriberPlacement?> GetPlacementAsync(string tenantId, string username, CancellationToken cancellationToken) =>
        inner.GetPlacementAsync(tenantId, username, cancellationToken);

    public virtual Task<IDirectoryWatch> WatchAsync(CancellationToken cancellationToken) => inner.WatchAsync(cancellationToken);

    public Task<ShardUpdateResult> TryUpdateShardAsync(ShardKey key, long expectedEpoch, ShardUpdate update, CancellationToken cancellationToken) =>
        inner.TryUpdateShardAsync(key, expectedEpoch, update, cancellationToken);

    public Task<ShardUpdateResult> TryAcquireLeaseAsync(ShardKey key, string holder, TimeSpan duration, CancellationToken cancellationToken) =>
        inner.TryAcquireLeaseAsync(key, holder, duration, cancellationToken);

    public Task<bool> ReleaseLeaseAsync(ShardKey key, string holder, CancellationToken cancellationToken) => inner.ReleaseLeaseAsync(key, holder, cancellationToken);

    public Task<OwnerLeaseRenewal> RenewOwnerLeasesAsync(string region, IReadOnlyList<(ShardKey Key, long Epoch)> shards, TimeSpan ttl, CancellationToken cancellationToken) =>
        inner.RenewOwnerLeasesAsync(region, shards, ttl, cancellationToken);

    public Task<OwnerLeaseView> LoadOwnerLeasesAsync(CancellationToken cancellationToken) => inner.LoadOwnerLeasesAsync(cancellationToken);

    public Task ReleaseOwnerLeasesAsync(string region, CancellationToken cancellationToken) => inner.ReleaseOwnerLeasesAsync(region, cancellationToken);

    public Task<DrEvent> AppendDrEventAsync(DrEvent drEvent, CancellationToken cancellationToken) => inner.AppendDrEventAsync(drEvent, cancellationToken);

    public Task<IReadOnlyList<DrEvent>> ListDrEventsAsync(ShardKey? shard, int limit, CancellationToken cancellationToken) =>
        inner.ListDrEventsAsync(shard, limit, cancellationToken);

    public Task UpsertRegionAsync(Region region, CancellationToken cancellationToken) => inner.UpsertRegionAsync(region, cancellationToken);

    public Task UpsertTenantAsync(Tenant tenant, CancellationToken cancellationToken) => inner.UpsertTenantAsync(tenant, cancellationToken);

    public Task<Shard> CreateShardAsync(Shard shard, CancellationToken cancellationToken) => inner.CreateShardAsync(shard, cancellationToken);

    public Task<ShardUpdateResult> TrySetShardStateAsync(ShardKey key, ShardState expected, ShardState state, CancellationToken cancellationToken) =>
        inner.TrySetShardStateAsync(key, expected, state, cancellationToken);

    public Task<bool> DeleteShardAsync(ShardKey key, CancellationToken cancellationToken) => inner.DeleteShardAsync(key, cancellationToken);

    public Task<bool> DeleteTenantAsync(string tenantId, CancellationToken cancellationToken) => inner.DeleteTenantAsync(tenantId, cancellationToken);

    public Task<bool> SetTenantApiKeyHashAsync(string tenantId, byte[] sha256, bool onlyIfUnset, CancellationToken cancellationToken) =>
        inner.SetTenantApiKeyHashAsync(tenantId, sha256, onlyIfUnset, cancellationToken);

    public Task UpsertNasAsync(NasDevice nas, CancellationToken cancellationToken) => inner.UpsertNasAsync(nas, cancellationToken);

    public Task<bool> DeleteNasAsync(string tenantId, string nasId, CancellationToken cancellationToken) => inner.DeleteNasAsync(tenantId, nasId, cancellationToken);

    public Task<PlacementWrite> TryAddPlacementAsync(string tenantId, string username, string homeRegion, CancellationToken cancellationToken) =>
        inner.TryAddPlacementAsync(tenantId, username, homeRegion, cancellationToken);

    public Task<bool> DeletePlacementAsync(string tenantId, string username, DateTimeOffset? createdAt, CancellationToken cancellationToken) =>
        inner.DeletePlacementAsync(tenantId, username, createdAt, cancellationToken);

    public Task<IReadOnlyList<SubscriberPlacement>> ListPlacementsCreatedBetweenAsync(
        DateTimeOffset createdFrom, DateTimeOffset createdBefore, SubscriberPlacement? after, int limit, CancellationToken cancellationToken) =>
        inner.ListPlacementsCreatedBetweenAsync(createdFrom, createdBefore, after, limit, cancellationToken);

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
