using System.Threading.Channels;
using Geo.Directory.Nas;
using Geo.Directory.Placement;
using Geo.Directory.Recovery;
using Geo.Directory.Regions;
using Geo.Directory.Shards;
using Geo.Directory.Tenants;

namespace Geo.Directory.Stores.Memory;

/// <summary>
/// A directory held in this process only, with the same compare-and-set and change-feed semantics as the real
/// stores: for benchmarks and tests that need a directory without a database, and for single-process demos.
/// It is not shared between processes and does not survive a restart.
/// </summary>
public sealed class InMemoryDirectoryStore : IDirectoryStore
{
    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private readonly Dictionary<string, Region> _regions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Tenant> _tenants = new(StringComparer.Ordinal);
    private readonly Dictionary<string, byte[]> _apiKeyHashes = new(StringComparer.Ordinal);
    private readonly Dictionary<ShardKey, Shard> _shards = [];
    private readonly Dictionary<(string, string), NasDevice> _nas = [];
    private readonly Dictionary<(string, string), SubscriberPlacement> _placements = [];
    // Like the PostgreSQL tables: neither owner leases nor DR events notify watchers.
    private readonly Dictionary<ShardKey, OwnerLease> _ownerLeases = [];
    private readonly List<DrEvent> _drEvents = [];
    private readonly List<Channel<DirectoryChange>> _watchers = [];

    /// <summary>An empty directory.</summary>
    public InMemoryDirectoryStore(TimeProvider? time = null) => _time = time ?? TimeProvider.System;

    /// <inheritdoc />
    public Task<DirectoryData> LoadAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult(new DirectoryData
            {
                Regions = [.. _regions.Values.OrderBy(r => r.Id, StringComparer.Ordinal)],
                Tenants = [.. _tenants.Values.OrderBy(t => t.Id, StringComparer.Ordinal)],
                Shards = [.. _shards.Values],
                NasDevices = [.. _nas.Values],
                TenantApiKeyHashes = _apiKeyHashes.ToDictionary(e => e.Key, e => e.Value.ToArray(), StringComparer.Ordinal),
            });
        }
    }

    /// <inheritdoc />
    public Task LoadPlacementsAsync(PlacementIndex target, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        lock (_gate)
        {
            foreach (var placement in _placements.Values)
            {
                target.Set(placement.TenantId, placement.Username, placement.HomeRegion);
            }
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<SubscriberPlacement?> GetPlacementAsync(string tenantId, string username, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult(_placements.GetValueOrDefault((tenantId, username)));
        }
    }

    /// <inheritdoc />
    public Task<IDirectoryWatch> WatchAsync(CancellationToken cancellationToken)
    {
        var channel = Channel.CreateUnbounded<DirectoryChange>(new UnboundedChannelOptions { SingleReader = true });
        lock (_gate)
        {
            _watchers.Add(channel);
        }

        return Task.FromResult<IDirectoryWatch>(new Watch(this, channel));
    }

    /// <inheritdoc />
    public Task<ShardUpdateResult> TryUpdateShardAsync(ShardKey key, long expectedEpoch, ShardUpdate update, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(update);
        lock (_gate)
        {
            if (!_shards.TryGetValue(key, out var shard))
            {
                return Task.FromResult(new ShardUpdateResult(ShardUpdateOutcome.NotFound, null));
            }

            if (shard.Epoch != expectedEpoch)
            {
                return Task.FromResult(new ShardUpdateResult(ShardUpdateOutcome.EpochMismatch, shard));
            }

            var standby = update.ChangeStandby ? update.StandbyRegion
                : update.OwnerRegion is not null && shard.StandbyRegion == update.OwnerRegion ? null
                : shard.StandbyRegion;
            shard = shard with
            {
                OwnerRegion = update.OwnerRegion ?? shard.OwnerRegion,
                StandbyRegion = standby,
                State = update.State ?? shard.State,
                Epoch = update.RaisesEpoch ? shard.Epoch + 1 : shard.Epoch,
            };
            _shards[key] = shard;
            NotifyLocked(new DirectoryChange(true, false, []));
            return Task.FromResult(new ShardUpdateResult(ShardUpdateOutcome.Updated, shard));
        }
    }

    /// <inheritdoc />
    public Task<ShardUpdateResult> TryAcquireLeaseAsync(ShardKey key, string holder, TimeSpan duration, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            if (!_shards.TryGetValue(key, out var shard))
            {
                return Task.FromResult(new ShardUpdateResult(ShardUpdateOutcome.NotFound, null));
            }

            if (shard.Lease is { } lease && lease.Holder != holder && lease.ExpiresAt > now)
            {
                return Task.FromResult(new ShardUpdateResult(ShardUpdateOutcome.LeaseHeld, shard));
            }

            shard = shard with { Lease = new ShardLease(holder, now + duration) };
            _shards[key] = shard;
            NotifyLocked(new DirectoryChange(true, false, []));
            return Task.FromResult(new ShardUpdateResult(ShardUpdateOutcome.Updated, shard));
        }
    }

    /// <inheritdoc />
    public Task<bool> ReleaseLeaseAsync(ShardKey key, string holder, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (!_shards.TryGetValue(key, out var shard) || shard.Lease?.Holder != holder)
            {
                return Task.FromResult(false);
            }

            _shards[key] = shard with { Lease = null };
            NotifyLocked(new DirectoryChange(true, false, []));
            return Task.FromResult(true);
        }
    }

    /// <inheritdoc />
    public Task<OwnerLeaseRenewal> RenewOwnerLeasesAsync(string region, IReadOnlyList<(ShardKey Key, long Epoch)> shards, TimeSpan ttl, CancellationToken cancellationToken)
    {
        OwnerLeases.ValidateRenewal(region, shards, ttl);
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            var granted = new List<OwnerLease>();
            foreach (var (key, epoch) in shards.Distinct())
            {
                if (_shards.TryGetValue(key, out var shard) && OwnerLeases.IsGrantable(shard, region, epoch))
                {
                    var lease = new OwnerLease(key, region, epoch, now + ttl, now);
                    _ownerLeases[key] = lease;
                    granted.Add(lease);
                }
            }

            return Task.FromResult(new OwnerLeaseRenewal(now, OwnerLeases.Ordered(granted)));
        }
    }

    /// <inheritdoc />
    public Task<OwnerLeaseView> LoadOwnerLeasesAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult(new OwnerLeaseView(_time.GetUtcNow(), OwnerLeases.Ordered(_ownerLeases.Values)));
        }
    }

    /// <inheritdoc />
    public Task ReleaseOwnerLeasesAsync(string region, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(region);
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            foreach (var lease in _ownerLeases.Values.Where(l => l.Holder == region && l.ExpiresAt > now).ToList())
            {
                _ownerLeases[lease.Key] = lease with { ExpiresAt = now };
            }
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<DrEvent> AppendDrEventAsync(DrEvent drEvent, CancellationToken cancellationToken)
    {
        DrEventRules.Validate(drEvent);
        lock (_gate)
        {
            var stored = drEvent with { Id = _drEvents.Count + 1, At = _time.GetUtcNow() };
            _drEvents.Add(stored);
            return Task.FromResult(stored);
        }
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<DrEvent>> ListDrEventsAsync(ShardKey? shard, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<DrEvent>>(DrEventRules.Newest(_drEvents.Where(e => shard is not { } only || e.Shard == only), limit));
        }
    }

    /// <inheritdoc />
    public Task UpsertRegionAsync(Region region, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(region);
        return ChangeControlPlane(() => _regions[region.Id] = region);
    }

    /// <inheritdoc />
    public Task UpsertTenantAsync(Tenant tenant, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        return ChangeControlPlane(() => _tenants[tenant.Id] = tenant);
    }

    /// <inheritdoc />
    public Task<Shard> CreateShardAsync(Shard shard, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(shard);
        lock (_gate)
        {
            if (_shards.TryAdd(shard.Key, shard))
            {
                NotifyLocked(new DirectoryChange(true, false, []));
            }

            return Task.FromResult(_shards[shard.Key]);
        }
    }

    /// <inheritdoc />
    public Task<ShardUpdateResult> TrySetShardStateAsync(ShardKey key, ShardState expected, ShardState state, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (!_shards.TryGetValue(key, out var shard))
            {
                return Task.FromResult(new ShardUpdateResult(ShardUpdateOutcome.NotFound, null));
            }

            if (shard.State != expected)
            {
                return Task.FromResult(new ShardUpdateResult(ShardUpdateOutcome.StateMismatch, shard));
            }

            var next = shard with { State = state };
            _shards[key] = next;
            NotifyLocked(new DirectoryChange(true, false, []));
            return Task.FromResult(new ShardUpdateResult(ShardUpdateOutcome.Updated, next));
        }
    }

    /// <inheritdoc />
    public Task<bool> DeleteShardAsync(ShardKey key, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (!_shards.TryGetValue(key, out var shard) || shard.State is not (ShardState.Provisioning or ShardState.Retiring))
            {
                return Task.FromResult(false);
            }

            _shards.Remove(key);
            _ownerLeases.Remove(key);
            var changes = new List<PlacementChange>();
            foreach (var placement in _placements.Values.Where(p => p.TenantId == key.TenantId && p.HomeRegion == key.HomeRegion).ToList())
            {
                _placements.Remove((placement.TenantId, placement.Username));
                changes.Add(new PlacementChange(placement.TenantId, placement.Username, null));
            }

            NotifyLocked(new DirectoryChange(true, false, changes));
            return Task.FromResult(true);
        }
    }

    /// <inheritdoc />
    public Task<bool> DeleteTenantAsync(string tenantId, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_shards.Keys.Any(k => k.TenantId == tenantId) || !_tenants.Remove(tenantId))
            {
                return Task.FromResult(false);
            }

            _apiKeyHashes.Remove(tenantId);
            foreach (var nas in _nas.Keys.Where(k => k.Item1 == tenantId).ToList())
            {
                _nas.Remove(nas);
            }

            NotifyLocked(new DirectoryChange(true, false, []));
            return Task.FromResult(true);
        }
    }

    /// <inheritdoc />
    public Task<bool> SetTenantApiKeyHashAsync(string tenantId, byte[] sha256, bool onlyIfUnset, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sha256);
        lock (_gate)
        {
            if (!_tenants.ContainsKey(tenantId) || (onlyIfUnset && _apiKeyHashes.ContainsKey(tenantId)))
            {
                return Task.FromResult(false);
            }

            _apiKeyHashes[tenantId] = sha256.ToArray();
            NotifyLocked(new DirectoryChange(true, false, []));
            return Task.FromResult(true);
        }
    }

    /// <inheritdoc />
    public Task UpsertNasAsync(NasDevice nas, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(nas);
        return ChangeControlPlane(() => _nas[(nas.TenantId, nas.Id)] = nas);
    }

    /// <inheritdoc />
    public Task<bool> DeleteNasAsync(string tenantId, string nasId, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var removed = _nas.Remove((tenantId, nasId));
            if (removed)
            {
                NotifyLocked(new DirectoryChange(true, false, []));
            }

            return Task.FromResult(removed);
        }
    }

    /// <inheritdoc />
    public Task<PlacementWrite> TryAddPlacementAsync(string tenantId, string username, string homeRegion, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_placements.TryGetValue((tenantId, username), out var existing))
            {
                return Task.FromResult(new PlacementWrite(existing, false));
            }

            if (!_shards.ContainsKey(new ShardKey(tenantId, homeRegion)))
            {
                throw new InvalidOperationException($"tenant {tenantId} has no shard in region {homeRegion}");
            }

            var placement = new SubscriberPlacement(tenantId, username, homeRegion, _time.GetUtcNow());
            _placements[(tenantId, username)] = placement;
            NotifyLocked(new DirectoryChange(false, false, [new PlacementChange(tenantId, username, homeRegion)]));
            return Task.FromResult(new PlacementWrite(placement, true));
        }
    }

    /// <inheritdoc />
    public Task<bool> DeletePlacementAsync(string tenantId, string username, DateTimeOffset? createdAt, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (!_placements.TryGetValue((tenantId, username), out var existing) || (createdAt is { } expected && existing.CreatedAt != expected))
            {
                return Task.FromResult(false);
            }

            _placements.Remove((tenantId, username));
            NotifyLocked(new DirectoryChange(false, false, [new PlacementChange(tenantId, username, null)]));
            return Task.FromResult(true);
        }
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<SubscriberPlacement>> ListPlacementsCreatedBetweenAsync(
        DateTimeOffset createdFrom, DateTimeOffset createdBefore, SubscriberPlacement? after, int limit, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            IReadOnlyList<SubscriberPlacement> page = _placements.Values
                .Where(p => p.CreatedAt >= createdFrom && p.CreatedAt < createdBefore)
                .OrderBy(p => p.CreatedAt).ThenBy(p => p.TenantId, StringComparer.Ordinal).ThenBy(p => p.Username, StringComparer.Ordinal)
                .SkipWhile(p => after is not null && Compare(p, after) <= 0)
                .Take(limit)
                .ToList();
            return Task.FromResult(page);
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            foreach (var watcher in _watchers)
            {
                watcher.Writer.TryComplete();
            }

            _watchers.Clear();
        }

        return ValueTask.CompletedTask;
    }

    private static int Compare(SubscriberPlacement x, SubscriberPlacement y)
    {
        var order = x.CreatedAt.CompareTo(y.CreatedAt);
        order = order != 0 ? order : string.CompareOrdinal(x.TenantId, y.TenantId);
        return order != 0 ? order : string.CompareOrdinal(x.Username, y.Username);
    }

    private Task ChangeControlPlane(Action change)
    {
        lock (_gate)
        {
            change();
            NotifyLocked(new DirectoryChange(true, false, []));
        }

        return Task.CompletedTask;
    }

    private void NotifyLocked(DirectoryChange change)
    {
        foreach (var watcher in _watchers)
        {
            watcher.Writer.TryWrite(change);
        }
    }

    private sealed class Watch(InMemoryDirectoryStore store, Channel<DirectoryChange> channel) : IDirectoryWatch
    {
        public async Task<DirectoryChange> WaitAsync(CancellationToken cancellationToken) => await channel.Reader.ReadAsync(cancellationToken);

        public ValueTask DisposeAsync()
        {
            lock (store._gate)
            {
                store._watchers.Remove(channel);
            }

            return ValueTask.CompletedTask;
        }
    }
}
