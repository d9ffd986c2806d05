using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Geo.Directory.Nas;
using Geo.Directory.Placement;
using Geo.Directory.Recovery;
using Geo.Directory.Regions;
using Geo.Directory.Shards;
using Geo.Directory.Tenants;

namespace Geo.Directory.Stores.Consul;

/// <summary>
/// The directory in Consul (production: three sites for a quorum), over its HTTP API; values JSON below
/// <see cref="ConsulDirectoryOptions.KeyPrefix"/> (<c>geo/</c>):
/// <code>
/// directory/regions/&lt;id&gt;             {"displayName","apiUrl","radiusHost","radiusAuthPort","radiusAcctPort"}
/// directory/tenants/&lt;id&gt;             {"displayName","apiKeyHash"}
/// directory/shards/&lt;tenant&gt;/&lt;home&gt;   {"owner","standby","epoch","state","leaseHolder","leaseExpiresAt","databaseName"}
/// directory/nas/&lt;tenant&gt;/&lt;id&gt;         {"address","primaryRegion","backupRegion"}
/// placements/&lt;tenant&gt;/&lt;bucket&gt;      {"&lt;username&gt;":{"h":"&lt;home&gt;","c":&lt;created ms&gt;} | {"d":&lt;removed ms&gt;}, ...}
/// owner-leases/&lt;tenant&gt;/&lt;home&gt;    {"holder","epoch","expiresAt","renewedAt"}
/// dr-events/&lt;tenant&gt;/&lt;home&gt;/&lt;unique&gt;  {"at","operation","step","outcome","detail","operator","data","elapsedMs"}
/// </code>
/// <para>
/// Shards change by compare-and-set on ModifyIndex after an epoch check, so exactly one concurrent change wins.
/// Placements sit in 4096 buckets per tenant (FNV-1a; ~250 per bucket at a million subscribers, far below Consul's
/// 512 KB value limit), so a change notifies watchers with one bucket, not a million keys. Region endpoints come from
/// instances of <see cref="ConsulDirectoryOptions.RegionService"/> (meta <c>geo-region</c>), the KV document as fallback.
/// Costs: a placement change makes every watcher refetch the placement prefix, and the orphan sweep reads all buckets.
/// </para>
/// <para>
/// Owner leases and DR events sit outside the two prefixes the watch follows, so that a renewal every second per shard
/// wakes no watcher (Consul answers a prefix's blocking query when a key below it changes). One exception, harmless: a
/// prefix without any key reports the index of the whole KV store, so while no subscriber is placed the placement query
/// returns at each renewal and is re-issued without reporting a change. A renewal reads the shard rows and then writes
/// the leases in transactions that also check each shard row's ModifyIndex, so it is ordered with every change of a
/// shard. Consul's KV has no clock of its own: lease times and DR event times are this process's
/// <see cref="TimeProvider"/>, so with Consul the region nodes and the promote driver must keep their clocks
/// synchronized (NTP), and the driver should wait out the clocks' possible skew on top of a lease's expiry.
/// </para>
/// </summary>
public sealed class ConsulDirectoryStore : IDirectoryStore
{
    internal const int PlacementBuckets = 4096;
    private const int CasAttempts = 32;

    /// <summary>Consul's limit of operations in one transaction.</summary>
    private const int TxnMaxOperations = 128;
    private static readonly TimeSpan TombstoneLifetime = TimeSpan.FromHours(1);

    private readonly HttpClient _http;
    private readonly ConsulDirectoryOptions _options;
    private readonly TimeProvider _time;

    /// <summary>A store talking to the Consul agent in <paramref name="options"/> (through <paramref name="handler"/>, when given).</summary>
    public ConsulDirectoryStore(ConsulDirectoryOptions options, HttpMessageHandler? handler = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _time = time ?? TimeProvider.System;
        // No client timeout: blocking queries legitimately wait up to WaitTime; each call is bounded by its token.
        _http = new HttpClient(handler ?? new SocketsHttpHandler { UseProxy = false, PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
        {
            BaseAddress = options.Address,
            Timeout = Timeout.InfiniteTimeSpan,
        };
        DirectoryPrefix = options.KeyPrefix + "directory/";
        PlacementPrefix = options.KeyPrefix + "placements/";
        OwnerLeasePrefix = options.KeyPrefix + "owner-leases/";
        DrEventPrefix = options.KeyPrefix + "dr-events/";
    }

    internal string DirectoryPrefix { get; }

    internal string PlacementPrefix { get; }

    internal string OwnerLeasePrefix { get; }

    internal string DrEventPrefix { get; }

    /// <inheritdoc />
    public async Task<DirectoryData> LoadAsync(CancellationToken cancellationToken)
    {
        var (entries, _) = await ListAsync(DirectoryPrefix, null, cancellationToken);
        var (instances, _) = await HealthAsync(null, cancellationToken);
        return BuildData(entries, instances);
    }

    /// <inheritdoc />
    public async Task LoadPlacementsAsync(PlacementIndex target, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        var (buckets, _) = await ListAsync(PlacementPrefix, null, cancellationToken);
        foreach (var change in PlacementChanges(buckets, 0))
        {
            if (change.HomeRegion is not null)
            {
                target.Set(change.TenantId, change.Username, change.HomeRegion);
            }
        }
    }

    /// <inheritdoc />
    public async Task<SubscriberPlacement?> GetPlacementAsync(string tenantId, string username, CancellationToken cancellationToken)
    {
        var entry = await GetAsync(BucketKey(tenantId, username), cancellationToken);
        return entry is not null && ReadBucket(entry).TryGetValue(username, out var placed) && placed is { Home: { } home, Created: { } created }
            ? new SubscriberPlacement(tenantId, username, home, DateTimeOffset.FromUnixTimeMilliseconds(created))
            : null;
    }

    /// <inheritdoc />
    public async Task<IDirectoryWatch> WatchAsync(CancellationToken cancellationToken)
    {
        // The current indexes first: any change after them wakes the watch, including one during the caller's load.
        var directory = await IndexOfAsync(DirectoryPrefix, cancellationToken);
        var placements = await IndexOfAsync(PlacementPrefix, cancellationToken);
        var (_, health) = await HealthAsync(null, cancellationToken);
        return new ConsulDirectoryWatch(this, directory, placements, health);
    }

    /// <inheritdoc />
    public Task<ShardUpdateResult> TryUpdateShardAsync(ShardKey key, long expectedEpoch, ShardUpdate update, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(update);
        return CompareAndSetShardAsync(key, document =>
        {
            if (document.Epoch != expectedEpoch)
            {
                return (ShardUpdateOutcome.EpochMismatch, null);
            }

            var owner = update.OwnerRegion ?? document.Owner;
            var standby = update.ChangeStandby ? update.StandbyRegion
                : update.OwnerRegion is not null && document.Standby == update.OwnerRegion ? null
                : document.Standby;
            var state = update.State is { } s ? ShardStates.ToText(s) : document.State;
            return (ShardUpdateOutcome.Updated, document with { Owner = owner, Standby = standby, State = state, Epoch = update.RaisesEpoch ? document.Epoch + 1 : document.Epoch });
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<ShardUpdateResult> TryAcquireLeaseAsync(ShardKey key, string holder, TimeSpan duration, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(holder);
        var now = _time.GetUtcNow();
        return CompareAndSetShardAsync(key, document =>
            document.LeaseHolder is null || document.LeaseHolder == holder || document.LeaseExpiresAt is null || document.LeaseExpiresAt <= now
                ? (ShardUpdateOutcome.Updated, document with { LeaseHolder = holder, LeaseExpiresAt = now + duration })
                : (ShardUpdateOutcome.LeaseHeld, null), cancellationToken);
    }

    /// <inheritdoc />
    public async Task<bool> ReleaseLeaseAsync(ShardKey key, string holder, CancellationToken cancellationToken)
    {
        var result = await CompareAndSetShardAsync(key, document =>
            document.LeaseHolder == holder
                ? (ShardUpdateOutcome.Updated, document with { LeaseHolder = null, LeaseExpiresAt = null })
                : (ShardUpdateOutcome.LeaseHeld, null), cancellationToken);
        return result.Succeeded;
    }

    /// <inheritdoc />
    public async Task<OwnerLeaseRenewal> RenewOwnerLeasesAsync(
        string region, IReadOnlyList<(ShardKey Key, long Epoch)> shards, TimeSpan ttl, CancellationToken cancellationToken)
    {
        OwnerLeases.ValidateRenewal(region, shards, ttl);
        var now = _time.GetUtcNow();
        var granted = new List<OwnerLease>();
        var pending = shards.Distinct().ToList();
        for (var attempt = 0; pending.Count > 0; attempt++)
        {
            if (attempt == CasAttempts)
            {
                throw new DirectoryStoreException($"owner leases of region {region} stayed contended for {CasAttempts} attempts");
            }

            var (rows, _) = await ListAsync(DirectoryPrefix + "shards/", null, cancellationToken);
            var byKey = rows.ToDictionary(r => r.Key, StringComparer.Ordinal);
            var eligible = new List<(OwnerLease Lease, ConsulKvEntry Row)>();
            foreach (var (key, epoch) in pending)
            {
                if (byKey.TryGetValue(ShardKeyPath(key), out var row) &&
                    OwnerLeases.IsGrantable(ToShard(key, Deserialize(row, GeoConsulJson.Default.ShardDocument)), region, epoch))
                {
                    eligible.Add((new OwnerLease(key, region, epoch, now + ttl, now), row));
                }
            }

            pending = [];
            // Two operations a shard: its row still as read (so a change of owner, epoch or state since wins), and its lease.
            foreach (var chunk in eligible.Chunk(TxnMaxOperations / 2))
            {
                var operations = chunk.SelectMany(s => new[]
                {
                    KvOp("check-index", s.Row.Key, index: s.Row.ModifyIndex),
                    KvOp("set", OwnerLeaseKey(s.Lease.Key), Serialize(ToDocument(s.Lease), GeoConsulJson.Default.OwnerLeaseDocument)),
                }).ToList();
                if (await TransactAsync(operations, cancellationToken) is not null)
                {
                    granted.AddRange(chunk.Select(s => s.Lease));
                }
                else
                {
                    // A shard row of the chunk changed since we read it: decide again on what is there now.
                    pending.AddRange(chunk.Select(s => (s.Lease.Key, s.Lease.Epoch)));
                }
            }
        }

        return new OwnerLeaseRenewal(now, OwnerLeases.Ordered(granted));
    }

    /// <inheritdoc />
    public async Task<OwnerLeaseView> LoadOwnerLeasesAsync(CancellationToken cancellationToken)
    {
        var (entries, _) = await ListAsync(OwnerLeasePrefix, null, cancellationToken);
        var leases = new List<OwnerLease>();
        foreach (var entry in entries)
        {
            if (ReadOwnerLease(entry) is { } lease)
            {
                leases.Add(lease);
            }
        }

        return new OwnerLeaseView(_time.GetUtcNow(), OwnerLeases.Ordered(leases));
    }

    /// <inheritdoc />
    public async Task ReleaseOwnerLeasesAsync(string region, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(region);
        for (var attempt = 0; attempt < CasAttempts; attempt++)
        {
            var (entries, _) = await ListAsync(OwnerLeasePrefix, null, cancellationToken);
            var now = _time.GetUtcNow();
            var operations = new List<ConsulTxnOp>();
            foreach (var entry in entries)
            {
                if (ReadOwnerLease(entry) is { } lease && lease.Holder == region && lease.ExpiresAt > now)
                {
                    operations.Add(KvOp("cas", entry.Key, Serialize(ToDocument(lease with { ExpiresAt = now }), GeoConsulJson.Default.OwnerLeaseDocument), entry.ModifyIndex));
                }
            }

            var contended = false;
            foreach (var chunk in operations.Chunk(TxnMaxOperations))
            {
                contended |= await TransactAsync(chunk, cancellationToken) is null;
            }

            if (!contended)
            {
                return;
            }

            // Another node of the region renewed a lease since we read it: release what is there now.
        }

        throw new DirectoryStoreException($"owner leases of region {region} stayed contended for {CasAttempts} attempts");
    }

    /// <inheritdoc />
    public async Task<DrEvent> AppendDrEventAsync(DrEvent drEvent, CancellationToken cancellationToken)
    {
        DrEventRules.Validate(drEvent);
        var at = _time.GetUtcNow();
        var key = DrEventPrefix + drEvent.Shard.TenantId + "/" + drEvent.Shard.HomeRegion + "/" + Guid.NewGuid().ToString("N");
        var document = new DrEventDocument(at, drEvent.Operation, drEvent.Step, drEvent.Outcome, drEvent.Detail, drEvent.Operator, drEvent.DataJson, drEvent.ElapsedMs);
        // A transaction rather than a plain PUT: its answer carries the new key's CreateIndex, the Raft index that
        // orders every write of the cluster, and so the event's id.
        var results = await TransactAsync([KvOp("set", key, Serialize(document, GeoConsulJson.Default.DrEventDocument))], cancellationToken);
        var created = results?.FirstOrDefault()?.KV ?? throw new DirectoryStoreException($"Consul did not write {key}");
        return drEvent with { Id = checked((long)created.CreateIndex), At = at };
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<DrEvent>> ListDrEventsAsync(ShardKey? shard, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        var prefix = shard is { } only ? DrEventPrefix + only.TenantId + "/" + only.HomeRegion + "/" : DrEventPrefix;
        var (entries, _) = await ListAsync(prefix, null, cancellationToken);
        var events = new List<DrEvent>();
        foreach (var entry in entries)
        {
            if (entry.Key[DrEventPrefix.Length..].Split('/') is [var tenant, var home, _])
            {
                var document = Deserialize(entry, GeoConsulJson.Default.DrEventDocument);
                events.Add(new DrEvent(checked((long)entry.CreateIndex), document.At, new ShardKey(tenant, home), document.Operation, document.Step,
                    document.Outcome, document.Detail, document.Operator, document.Data, document.ElapsedMs));
            }
        }

        return DrEventRules.Newest(events, limit);
    }

    /// <inheritdoc />
    public async Task UpsertRegionAsync(Region region, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(region);
        var document = new RegionDocument(region.DisplayName, region.ApiUrl.ToString(), region.RadiusHost, region.RadiusAuthPort, region.RadiusAcctPort);
        await PutAsync(DirectoryPrefix + "regions/" + region.Id, Serialize(document, GeoConsulJson.Default.RegionDocument), null, cancellationToken);
    }

    /// <inheritdoc />
    public async Task UpsertTenantAsync(Tenant tenant, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        var key = DirectoryPrefix + "tenants/" + tenant.Id;
        for (var attempt = 0; attempt < CasAttempts; attempt++)
        {
            // Read-modify-write: the display name changes, an issued API key stays.
            var entry = await GetAsync(key, cancellationToken);
            var document = entry is null ? new TenantDocument(tenant.DisplayName) : Deserialize(entry, GeoConsulJson.Default.TenantDocument) with { DisplayName = tenant.DisplayName };
            if (await PutAsync(key, Serialize(document, GeoConsulJson.Default.TenantDocument), entry?.ModifyIndex ?? 0, cancellationToken))
            {
                return;
            }
        }

        throw new DirectoryStoreException($"tenant {tenant.Id} stayed contended for {CasAttempts} attempts");
    }

    /// <inheritdoc />
    public async Task<bool> SetTenantApiKeyHashAsync(string tenantId, byte[] sha256, bool onlyIfUnset, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sha256);
        var key = DirectoryPrefix + "tenants/" + tenantId;
        for (var attempt = 0; attempt < CasAttempts; attempt++)
        {
            var entry = await GetAsync(key, cancellationToken);
            if (entry is null)
            {
                return false;
            }

            var document = Deserialize(entry, GeoConsulJson.Default.TenantDocument);
            if (onlyIfUnset && document.ApiKeyHash is not null)
            {
                return false;
            }

            if (await PutAsync(key, Serialize(document with { ApiKeyHash = Convert.ToBase64String(sha256) }, GeoConsulJson.Default.TenantDocument), entry.ModifyIndex, cancellationToken))
            {
                return true;
            }
        }

        throw new DirectoryStoreException($"tenant {tenantId} stayed contended for {CasAttempts} attempts");
    }

    /// <inheritdoc />
    public Task<ShardUpdateResult> TrySetShardStateAsync(ShardKey key, ShardState expected, ShardState state, CancellationToken cancellationToken) =>
        CompareAndSetShardAsync(key, document => document.State == ShardStates.ToText(expected)
            ? (ShardUpdateOutcome.Updated, document with { State = ShardStates.ToText(state) })
            : (ShardUpdateOutcome.StateMismatch, null), cancellationToken);

    /// <inheritdoc />
    public async Task<bool> DeleteShardAsync(ShardKey key, CancellationToken cancellationToken)
    {
        // Placements live in buckets per tenant: the caller removes the shard's subscribers' placements first
        // (retire-shard does, from the shard database); any left over are orphans the sweeper removes.
        var path = ShardKeyPath(key);
        for (var attempt = 0; attempt < CasAttempts; attempt++)
        {
            var entry = await GetAsync(path, cancellationToken);
            if (entry is null || Deserialize(entry, GeoConsulJson.Default.ShardDocument).State is not ("provisioning" or "retiring"))
            {
                return false;
            }

            // The shard's owner lease goes with it, in the same transaction (as PostgreSQL's ON DELETE CASCADE).
            if (await TransactAsync([KvOp("delete-cas", path, index: entry.ModifyIndex), KvOp("delete", OwnerLeaseKey(key))], cancellationToken) is not null)
            {
                return true;
            }

            // The key changed since we read it (a lease renewal, a state change): decide again on what is there now.
        }

        throw new DirectoryStoreException($"shard {key} stayed contended for {CasAttempts} attempts");
    }

    /// <inheritdoc />
    public async Task<bool> DeleteTenantAsync(string tenantId, CancellationToken cancellationToken)
    {
        var (shards, _) = await ListAsync(DirectoryPrefix + "shards/" + tenantId + "/", null, cancellationToken);
        if (shards.Count > 0)
        {
            return false;
        }

        var (devices, _) = await ListAsync(DirectoryPrefix + "nas/" + tenantId + "/", null, cancellationToken);
        foreach (var device in devices)
        {
            await DeleteAsync(device.Key, device.ModifyIndex, cancellationToken);
        }

        var key = DirectoryPrefix + "tenants/" + tenantId;
        for (var attempt = 0; attempt < CasAttempts; attempt++)
        {
            var entry = await GetAsync(key, cancellationToken);
            if (entry is null)
            {
                return false;
            }

            if (await DeleteAsync(key, entry.ModifyIndex, cancellationToken))
            {
                return true;
            }

            // The tenant document changed since we read it (a new display name, an API key issued): read it again.
        }

        throw new DirectoryStoreException($"tenant {tenantId} stayed contended for {CasAttempts} attempts");
    }

    /// <inheritdoc />
    public async Task<Shard> CreateShardAsync(Shard shard, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(shard);
        var key = ShardKeyPath(shard.Key);
        var document = new ShardDocument(shard.OwnerRegion, shard.StandbyRegion, shard.Epoch, ShardStates.ToText(shard.State),
            shard.Lease?.Holder, shard.Lease?.ExpiresAt, shard.DatabaseName);
        // cas=0 writes only if the key does not exist: an existing shard keeps its owner and epoch.
        await PutAsync(key, Serialize(document, GeoConsulJson.Default.ShardDocument), 0, cancellationToken);
        var entry = await GetAsync(key, cancellationToken) ?? throw new DirectoryStoreException($"shard {shard.Key} vanished after its write");
        return ToShard(shard.Key, Deserialize(entry, GeoConsulJson.Default.ShardDocument));
    }

    /// <inheritdoc />
    public async Task UpsertNasAsync(NasDevice nas, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(nas);
        var document = new NasDocument(nas.Address.ToString(), nas.PrimaryRegion, nas.BackupRegion);
        await PutAsync(DirectoryPrefix + "nas/" + nas.TenantId + "/" + nas.Id, Serialize(document, GeoConsulJson.Default.NasDocument), null, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<bool> DeleteNasAsync(string tenantId, string nasId, CancellationToken cancellationToken)
    {
        var key = DirectoryPrefix + "nas/" + tenantId + "/" + nasId;
        var entry = await GetAsync(key, cancellationToken);
        return entry is not null && await DeleteAsync(key, entry.ModifyIndex, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<PlacementWrite> TryAddPlacementAsync(string tenantId, string username, string homeRegion, CancellationToken cancellationToken)
    {
        var key = BucketKey(tenantId, username);
        for (var attempt = 0; attempt < CasAttempts; attempt++)
        {
            var entry = await GetAsync(key, cancellationToken);
            var bucket = entry is null ? new Dictionary<string, PlacementEntry>(StringComparer.Ordinal) : ReadBucket(entry);
            if (bucket.TryGetValue(username, out var existing) && existing is { Home: { } home, Created: { } created })
            {
                return new PlacementWrite(new SubscriberPlacement(tenantId, username, home, DateTimeOffset.FromUnixTimeMilliseconds(created)), false);
            }

            var now = _time.GetUtcNow();
            PruneTombstones(bucket, now);
            bucket[username] = new PlacementEntry(homeRegion, now.ToUnixTimeMilliseconds(), null);
            if (await PutAsync(key, Serialize(bucket, GeoConsulJson.Default.DictionaryStringPlacementEntry), entry?.ModifyIndex ?? 0, cancellationToken))
            {
                return new PlacementWrite(new SubscriberPlacement(tenantId, username, homeRegion, DateTimeOffset.FromUnixTimeMilliseconds(now.ToUnixTimeMilliseconds())), true);
            }

            // Another writer changed the bucket since we read it: read it again.
        }

        throw new DirectoryStoreException($"placement bucket {key} stayed contended for {CasAttempts} attempts");
    }

    /// <inheritdoc />
    public async Task<bool> DeletePlacementAsync(string tenantId, string username, DateTimeOffset? createdAt, CancellationToken cancellationToken)
    {
        var key = BucketKey(tenantId, username);
        for (var attempt = 0; attempt < CasAttempts; attempt++)
        {
            var entry = await GetAsync(key, cancellationToken);
            if (entry is null)
            {
                return false;
            }

            var bucket = ReadBucket(entry);
            if (!bucket.TryGetValue(username, out var existing) || existing.Home is null ||
                (createdAt is { } expected && existing.Created != expected.ToUnixTimeMilliseconds()))
            {
                return false;
            }

            var now = _time.GetUtcNow();
            PruneTombstones(bucket, now);
            bucket[username] = new PlacementEntry(null, null, now.ToUnixTimeMilliseconds());
            if (await PutAsync(key, Serialize(bucket, GeoConsulJson.Default.DictionaryStringPlacementEntry), entry.ModifyIndex, cancellationToken))
            {
                return true;
            }
        }

        throw new DirectoryStoreException($"placement bucket {key} stayed contended for {CasAttempts} attempts");
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<SubscriberPlacement>> ListPlacementsCreatedBetweenAsync(
        DateTimeOffset createdFrom, DateTimeOffset createdBefore, SubscriberPlacement? after, int limit, CancellationToken cancellationToken)
    {
        var (buckets, _) = await ListAsync(PlacementPrefix, null, cancellationToken);
        var from = createdFrom.ToUnixTimeMilliseconds();
        var before = createdBefore.ToUnixTimeMilliseconds();
        var matches = new List<SubscriberPlacement>();
        foreach (var bucket in buckets)
        {
            var tenant = TenantOfBucket(bucket.Key);
            foreach (var (username, entry) in ReadBucket(bucket))
            {
                if (entry is { Home: { } home, Created: { } created } && created >= from && created < before)
                {
                    matches.Add(new SubscriberPlacement(tenant, username, home, DateTimeOffset.FromUnixTimeMilliseconds(created)));
                }
            }
        }

        matches.Sort(ComparePlacements);
        var start = after is null ? 0 : matches.FindIndex(p => ComparePlacements(p, after) > 0);
        return start < 0 ? [] : matches.Skip(start).Take(limit).ToList();
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _http.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>The bucket of a username: FNV-1a of its UTF-8 bytes, stable across processes and releases.</summary>
    internal static int BucketOf(string username)
    {
        var hash = 2166136261u;
        foreach (var b in Encoding.UTF8.GetBytes(username))
        {
            hash = (hash ^ b) * 16777619u;
        }

        return (int)(hash % PlacementBuckets);
    }

    internal string BucketKey(string tenantId, string username) =>
        PlacementPrefix + tenantId + "/" + BucketOf(username).ToString("x3", CultureInfo.InvariantCulture);

    /// <summary>Placement changes in buckets modified after <paramref name="sinceIndex"/> (every placement when 0).</summary>
    internal IEnumerable<PlacementChange> PlacementChanges(IReadOnlyList<ConsulKvEntry> buckets, ulong sinceIndex)
    {
        foreach (var bucket in buckets)
        {
            if (bucket.ModifyIndex <= sinceIndex)
            {
                continue;
            }

            var tenant = TenantOfBucket(bucket.Key);
            foreach (var (username, entry) in ReadBucket(bucket))
            {
                yield return new PlacementChange(tenant, username, entry.Home);
            }
        }
    }

    internal async Task<(List<ConsulKvEntry> Entries, ulong Index)> ListAsync(string prefix, ulong? waitIndex, CancellationToken cancellationToken)
    {
        var query = new StringBuilder("recurse=true");
        AppendWait(query, waitIndex);
        var (status, index, body) = await SendAsync(HttpMethod.Get, "kv/" + prefix, query.ToString(), null, cancellationToken);
        return status switch
        {
            HttpStatusCode.OK => (JsonSerializer.Deserialize(body, ConsulApiJson.Default.ListConsulKvEntry) ?? [], index),
            HttpStatusCode.NotFound => ([], index),
            _ => throw Unexpected(status, prefix),
        };
    }

    internal async Task<(List<ConsulServiceEntry> Instances, ulong Index)> HealthAsync(ulong? waitIndex, CancellationToken cancellationToken)
    {
        var query = new StringBuilder();
        AppendWait(query, waitIndex);
        var (status, index, body) = await SendAsync(HttpMethod.Get, "health/service/" + Uri.EscapeDataString(_options.RegionService), query.ToString(), null, cancellationToken);
        return status == HttpStatusCode.OK
            ? (JsonSerializer.Deserialize(body, ConsulApiJson.Default.ListConsulServiceEntry) ?? [], index)
            : throw Unexpected(status, "health of " + _options.RegionService);
    }

    private async Task<ulong> IndexOfAsync(string prefix, CancellationToken cancellationToken)
    {
        // keys=true answers with names only: the index without the values.
        var (status, index, _) = await SendAsync(HttpMethod.Get, "kv/" + prefix, "keys=true", null, cancellationToken);
        return status is HttpStatusCode.OK or HttpStatusCode.NotFound ? index : throw Unexpected(status, prefix);
    }

    private async Task<ShardUpdateResult> CompareAndSetShardAsync(
        ShardKey key, Func<ShardDocument, (ShardUpdateOutcome Outcome, ShardDocument? Next)> change, CancellationToken cancellationToken)
    {
        var path = ShardKeyPath(key);
        for (var attempt = 0; attempt < CasAttempts; attempt++)
        {
            var entry = await GetAsync(path, cancellationToken);
            if (entry is null)
            {
                return new ShardUpdateResult(ShardUpdateOutcome.NotFound, null);
            }

            var current = Deserialize(entry, GeoConsulJson.Default.ShardDocument);
            var (outcome, next) = change(current);
            if (next is null)
            {
                return new ShardUpdateResult(outcome, ToShard(key, current));
            }

            if (await PutAsync(path, Serialize(next, GeoConsulJson.Default.ShardDocument), entry.ModifyIndex, cancellationToken))
            {
                return new ShardUpdateResult(ShardUpdateOutcome.Updated, ToShard(key, next));
            }

            // The key changed since we read it (another compare-and-set, or a lease renewal): decide again on what is there now.
        }

        throw new DirectoryStoreException($"shard {key} stayed contended for {CasAttempts} attempts");
    }

    /// <summary>Applies <paramref name="operations"/> atomically: the results when applied, null when Consul rolled them back (a check failed).</summary>
    private async Task<List<ConsulTxnResult>?> TransactAsync(IReadOnlyList<ConsulTxnOp> operations, CancellationToken cancellationToken)
    {
        using var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(operations, ConsulApiJson.Default.IReadOnlyListConsulTxnOp));
        var (status, _, body) = await SendAsync(HttpMethod.Put, "txn", "", content, cancellationToken);
        return status switch
        {
            HttpStatusCode.OK => JsonSerializer.Deserialize(body, ConsulApiJson.Default.ConsulTxnResponse)?.Results ?? [],
            HttpStatusCode.Conflict => null,
            _ => throw Unexpected(status, "a transaction"),
        };
    }

    private static ConsulTxnOp KvOp(string verb, string key, byte[]? value = null, ulong? index = null) =>
        new(new ConsulTxnKvOp(verb, key, value is null ? null : Convert.ToBase64String(value), index));

    private async Task<ConsulKvEntry?> GetAsync(string key, CancellationToken cancellationToken)
    {
        var (status, _, body) = await SendAsync(HttpMethod.Get, "kv/" + key, "", null, cancellationToken);
        return status switch
        {
            HttpStatusCode.OK => (JsonSerializer.Deserialize(body, ConsulApiJson.Default.ListConsulKvEntry) ?? []).FirstOrDefault(),
            HttpStatusCode.NotFound => null,
            _ => throw Unexpected(status, key),
        };
    }

    private async Task<bool> PutAsync(string key, byte[] value, ulong? cas, CancellationToken cancellationToken)
    {
        using var content = new ByteArrayContent(value);
        var query = cas is { } index ? "cas=" + index.ToString(CultureInfo.InvariantCulture) : "";
        var (status, _, body) = await SendAsync(HttpMethod.Put, "kv/" + key, query, content, cancellationToken);
        return status == HttpStatusCode.OK ? ParseBool(body, key) : throw Unexpected(status, key);
    }

    private async Task<bool> DeleteAsync(string key, ulong cas, CancellationToken cancellationToken)
    {
        var (status, _, body) = await SendAsync(HttpMethod.Delete, "kv/" + key, "cas=" + cas.ToString(CultureInfo.InvariantCulture), null, cancellationToken);
        return status == HttpStatusCode.OK ? ParseBool(body, key) : throw Unexpected(status, key);
    }

    private async Task<(HttpStatusCode Status, ulong Index, byte[] Body)> SendAsync(
        HttpMethod method, string path, string query, HttpContent? content, CancellationToken cancellationToken)
    {
        var url = new StringBuilder("/v1/").Append(EscapePath(path));
        var separator = '?';
        if (query.Length > 0)
        {
            url.Append(separator).Append(query);
            separator = '&';
        }

        if (!string.IsNullOrEmpty(_options.Datacenter))
        {
            url.Append(separator).Append("dc=").Append(Uri.EscapeDataString(_options.Datacenter));
        }

        using var request = new HttpRequestMessage(method, new Uri(url.ToString(), UriKind.Relative)) { Content = content };
        if (!string.IsNullOrEmpty(_options.Token))
        {
            request.Headers.Add("X-Consul-Token", _options.Token);
        }

        using var response = await _http.SendAsync(request, cancellationToken);
        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        ulong index = 0;
        if (response.Headers.TryGetValues("X-Consul-Index", out var values))
        {
            _ = ulong.TryParse(values.FirstOrDefault(), NumberStyles.None, CultureInfo.InvariantCulture, out index);
        }

        return (response.StatusCode, index, body);
    }

    private void AppendWait(StringBuilder query, ulong? waitIndex)
    {
        if (waitIndex is not { } index)
        {
            return;
        }

        // Consul's rule: an index must be at least 1, or the query does not block.
        query.Append(query.Length > 0 ? "&" : "").Append("index=").Append(Math.Max(index, 1).ToString(CultureInfo.InvariantCulture))
            .Append("&wait=").Append(((long)_options.WaitTime.TotalMilliseconds).ToString(CultureInfo.InvariantCulture)).Append("ms");
    }

    private DirectoryData BuildData(List<ConsulKvEntry> entries, List<ConsulServiceEntry> instances)
    {
        var regionDocuments = new Dictionary<string, RegionDocument>(StringComparer.Ordinal);
        var tenants = new List<Tenant>();
        var apiKeyHashes = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var shards = new List<Shard>();
        var nasDevices = new List<NasDevice>();
        foreach (var entry in entries)
        {
            var parts = entry.Key[DirectoryPrefix.Length..].Split('/');
            switch (parts)
            {
                case ["regions", var id]:
                    regionDocuments[id] = Deserialize(entry, GeoConsulJson.Default.RegionDocument);
                    break;
                case ["tenants", var id]:
                    var tenantDocument = Deserialize(entry, GeoConsulJson.Default.TenantDocument);
                    tenants.Add(new Tenant(id, tenantDocument.DisplayName));
                    if (tenantDocument.ApiKeyHash is not null)
                    {
                        apiKeyHashes[id] = ParseApiKeyHash(entry.Key, tenantDocument.ApiKeyHash);
                    }

                    break;
                case ["shards", var tenant, var home]:
                    shards.Add(ToShard(new ShardKey(tenant, home), Deserialize(entry, GeoConsulJson.Default.ShardDocument)));
                    break;
                case ["nas", var tenant, var id]:
                    var nas = Deserialize(entry, GeoConsulJson.Default.NasDocument);
                    if (!IPAddress.TryParse(nas.Address, out var address))
                    {
                        throw new DirectoryStoreException($"{entry.Key}: '{nas.Address}' is not an IP address");
                    }

                    nasDevices.Add(new NasDevice(tenant, id, address, nas.PrimaryRegion, nas.BackupRegion));
                    break;
                default:
                    // Keys Geo does not know (written by a newer release, or by hand) are left alone.
                    break;
            }
        }

        var (regions, health) = MergeCatalog(regionDocuments, instances);
        return new DirectoryData { Regions = regions, Tenants = tenants, Shards = shards, NasDevices = nasDevices, RegionHealth = health, TenantApiKeyHashes = apiKeyHashes };
    }

    private static (List<Region> Regions, Dictionary<string, RegionHealth> Health) MergeCatalog(
        Dictionary<string, RegionDocument> documents, List<ConsulServiceEntry> instances)
    {
        var byRegion = instances
            .Where(i => i.Service.Meta?.ContainsKey("geo-region") == true)
            .GroupBy(i => i.Service.Meta!["geo-region"], StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.OrderBy(i => i.Node.Node, StringComparer.Ordinal).ToList(), StringComparer.Ordinal);
        var regions = new List<Region>();
        var health = new Dictionary<string, RegionHealth>(StringComparer.Ordinal);
        foreach (var id in documents.Keys.Union(byRegion.Keys, StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            documents.TryGetValue(id, out var document);
            byRegion.TryGetValue(id, out var registered);
            var passing = registered?.FirstOrDefault(IsPassing);
            var instance = passing ?? registered?.FirstOrDefault();
            if (registered is { Count: > 0 })
            {
                health[id] = passing is null ? RegionHealth.Down : RegionHealth.Healthy;
            }

            if (instance is null)
            {
                regions.Add(new Region(id, document!.DisplayName, new Uri(document.ApiUrl), document.RadiusHost, document.RadiusAuthPort, document.RadiusAcctPort));
                continue;
            }

            // Consul's rule: an instance without its own address is reached at its node's address.
            var host = string.IsNullOrEmpty(instance.Service.Address) ? instance.Node.Address : instance.Service.Address;
            var meta = instance.Service.Meta!;
            regions.Add(new Region(
                id,
                document?.DisplayName ?? id,
                new UriBuilder(Uri.UriSchemeHttp, host, instance.Service.Port).Uri,
                host,
                MetaPort(meta, "radius-auth-port") ?? document?.RadiusAuthPort ?? 1812,
                MetaPort(meta, "radius-acct-port") ?? document?.RadiusAcctPort ?? 1813));
        }

        return (regions, health);
    }

    private static bool IsPassing(ConsulServiceEntry instance) =>
        instance.Checks is null || instance.Checks.All(c => string.Equals(c.Status, "passing", StringComparison.Ordinal));

    private static int? MetaPort(IReadOnlyDictionary<string, string> meta, string name) =>
        meta.TryGetValue(name, out var text) && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) ? port : null;

    private static byte[] ParseApiKeyHash(string key, string base64)
    {
        var hash = new byte[32];
        return Convert.TryFromBase64String(base64, hash, out var written) && written == hash.Length
            ? hash
            : throw new DirectoryStoreException($"{key}: apiKeyHash is not the base64 of a SHA-256");
    }

    private string ShardKeyPath(ShardKey key) => DirectoryPrefix + "shards/" + key.TenantId + "/" + key.HomeRegion;

    private string OwnerLeaseKey(ShardKey key) => OwnerLeasePrefix + key.TenantId + "/" + key.HomeRegion;

    private OwnerLease? ReadOwnerLease(ConsulKvEntry entry)
    {
        if (entry.Key[OwnerLeasePrefix.Length..].Split('/') is not [var tenant, var home])
        {
            // Keys Geo does not know (written by a newer release, or by hand) are left alone.
            return null;
        }

        var document = Deserialize(entry, GeoConsulJson.Default.OwnerLeaseDocument);
        return new OwnerLease(new ShardKey(tenant, home), document.Holder, document.Epoch, document.ExpiresAt, document.RenewedAt);
    }

    private static OwnerLeaseDocument ToDocument(OwnerLease lease) => new(lease.Holder, lease.Epoch, lease.ExpiresAt, lease.RenewedAt);

    private string TenantOfBucket(string key)
    {
        var relative = key[PlacementPrefix.Length..];
        var slash = relative.IndexOf('/', StringComparison.Ordinal);
        return slash > 0 ? relative[..slash] : throw new DirectoryStoreException($"'{key}' is not a placement bucket key");
    }

    private static Shard ToShard(ShardKey key, ShardDocument document) => new(
        key, document.Owner, document.Standby, document.Epoch, ShardStates.Parse(document.State),
        document.LeaseHolder is { } holder && document.LeaseExpiresAt is { } expires ? new ShardLease(holder, expires) : null,
        document.DatabaseName);

    private static Dictionary<string, PlacementEntry> ReadBucket(ConsulKvEntry entry) =>
        entry.Value is null
            ? new Dictionary<string, PlacementEntry>(StringComparer.Ordinal)
            : new Dictionary<string, PlacementEntry>(Deserialize(entry, GeoConsulJson.Default.DictionaryStringPlacementEntry), StringComparer.Ordinal);

    private static void PruneTombstones(Dictionary<string, PlacementEntry> bucket, DateTimeOffset now)
    {
        var cutoff = (now - TombstoneLifetime).ToUnixTimeMilliseconds();
        foreach (var (username, entry) in bucket.Where(e => e.Value.Deleted < cutoff).ToList())
        {
            bucket.Remove(username);
        }
    }

    private static int ComparePlacements(SubscriberPlacement x, SubscriberPlacement y)
    {
        var order = x.CreatedAt.CompareTo(y.CreatedAt);
        order = order != 0 ? order : string.CompareOrdinal(x.TenantId, y.TenantId);
        return order != 0 ? order : string.CompareOrdinal(x.Username, y.Username);
    }

    private static T Deserialize<T>(ConsulKvEntry entry, JsonTypeInfo<T> type)
    {
        try
        {
            return JsonSerializer.Deserialize(Convert.FromBase64String(entry.Value ?? ""), type)
                ?? throw new DirectoryStoreException($"{entry.Key}: empty value");
        }
        catch (Exception ex) when (ex is JsonException or FormatException)
        {
            throw new DirectoryStoreException($"{entry.Key}: malformed value", ex);
        }
    }

    private static byte[] Serialize<T>(T value, JsonTypeInfo<T> type) => JsonSerializer.SerializeToUtf8Bytes(value, type);

    private static bool ParseBool(byte[] body, string key) => Encoding.ASCII.GetString(body).Trim() switch
    {
        "true" => true,
        "false" => false,
        var other => throw new DirectoryStoreException($"Consul answered '{other}' to a write of {key}"),
    };

    private static string EscapePath(string path) => string.Join('/', path.Split('/').Select(Uri.EscapeDataString));

    private static DirectoryStoreException Unexpected(HttpStatusCode status, string what) =>
        new($"Consul answered {(int)status} {status} for {what}");
}
