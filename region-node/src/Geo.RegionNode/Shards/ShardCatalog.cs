using System.Collections.Frozen;
using System.Net;
using Geo.Directory;
using Geo.Directory.Shards;
using Geo.Rating;
using Geo.RegionNode.Accounting;
using Geo.Schema.Secrets;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Geo.RegionNode.Shards;

/// <summary>
/// What this region serves: the shards it owns (from the directory), their NAS devices and plans (from the
/// shard databases). Reloaded every <see cref="RegionNodeOptions.RefreshInterval"/>; readers see immutable
/// snapshots swapped atomically, so the hot path takes no lock.
/// </summary>
internal sealed partial class ShardCatalog(
    IOptions<RegionNodeOptions> options,
    SecretBox secrets,
    Func<ShardHandle, AccountingWriter> writerFactory,
    DirectoryCache directory,
    OwnerLeases leases,
    TimeProvider time,
    ILogger<ShardCatalog> logger) : IAsyncDisposable
{
    private readonly RegionNodeOptions _options = options.Value;
    private readonly IPNetwork[] _peerNetworks = [.. options.Value.PeerSourceNetworks.Select(n => IPNetwork.Parse(n))];
    private readonly SemaphoreSlim _refreshGate = new(1, 1);
    private volatile Snapshot _snapshot = Snapshot.Empty;
    private readonly TaskCompletionSource _firstLoad = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _startLock = new();
    private Task? _directoryStart;
    private readonly HashSet<string> _unreadableReplicas = new(StringComparer.Ordinal);

    /// <summary>
    /// Replicas no longer stood by for (the shard was promoted here, moved, or deleted), each closed once
    /// <see cref="ReplicaRetireGrace"/> has passed: a request that took one from the map before it changed (an
    /// Access-Request answered from it during a promotion) finishes on it instead of failing on a closed data source.
    /// </summary>
    private readonly List<(ShardHandle Replica, long Due)> _retiring = [];

    private static readonly TimeSpan ReplicaRetireGrace = TimeSpan.FromSeconds(30);

    /// <summary>Completes after the first successful load; the node answers no RADIUS before it.</summary>
    public Task FirstLoad => _firstLoad.Task;

    /// <summary>
    /// A shard's ownership period on this region ended (the shard released, or served on at a newer epoch): the database
    /// name. Raised during a refresh; handlers must be quick and must not throw.
    /// </summary>
    public event Action<string>? OwnershipEnded;

    /// <summary>Completed (and replaced) each time a new snapshot is published: what a held request waits on.</summary>
    private TaskCompletionSource _published = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public DateTimeOffset? LastRefreshAt { get; private set; }

    public IReadOnlyCollection<ShardHandle> Shards => _snapshot.Shards.Values;

    public bool TryGetNas(IPAddress address, out NasClient nas) => _snapshot.Nas.TryGetValue(address, out nas!);

    public bool TryGetNas(string tenantId, string nasId, out NasClient nas)
    {
        nas = _snapshot.Nas.Values.FirstOrDefault(n => n.TenantId == tenantId && n.Id == nasId)!;
        return nas is not null;
    }

    public ShardHandle? Shard(string tenantId, string homeRegion) =>
        _snapshot.Shards.TryGetValue((tenantId, homeRegion), out var shard) ? shard : null;

    public IEnumerable<ShardHandle> ShardsOf(string tenantId) => _snapshot.Shards.Values.Where(s => s.TenantId == tenantId);

    /// <summary>The replica of a shard this region stands by for (read only), or null.</summary>
    public ShardHandle? Replica(string tenantId, string homeRegion) =>
        _snapshot.Replicas.TryGetValue((tenantId, homeRegion), out var replica) ? replica : null;

    /// <summary>The replicas of a tenant's shards this region stands by for.</summary>
    public IEnumerable<ShardHandle> ReplicasOf(string tenantId) => _snapshot.Replicas.Values.Where(s => s.TenantId == tenantId);

    /// <summary>Every replica this region stands by with.</summary>
    public IReadOnlyCollection<ShardHandle> Replicas => _snapshot.Replicas.Values;

    /// <summary>
    /// The other region that owns a shard now, to forward its requests to; null when the directory has no such shard, or
    /// names this region as its owner while the shard is not open here (yet): the moment of a promotion to this region,
    /// when forwarding would only send the request back here.
    /// </summary>
    public string? OwnerOf(string tenantId, string homeRegion) =>
        _snapshot.Owners.GetValueOrDefault((tenantId, homeRegion)) is { } owner && owner != _options.RegionId ? owner : null;

    /// <summary>
    /// True while the directory has the shard in a planned switchover: its owner stopped writing and its standby is being
    /// made the owner. Its requests are held (<see cref="WaitWhileSwitchingAsync"/>) rather than answered or forwarded.
    /// </summary>
    public bool IsSwitching(string tenantId, string homeRegion) => _snapshot.Switching.Contains((tenantId, homeRegion));

    /// <summary>
    /// Holds a request of a switching shard until the directory moves it on (a new owner, or back to the old one on abort),
    /// at most <paramref name="budget"/>; true when it did. Then the request is routed as the directory says.
    /// </summary>
    public async Task<bool> WaitWhileSwitchingAsync(string tenantId, string homeRegion, TimeSpan budget, CancellationToken cancellationToken)
    {
        var deadline = time.GetTimestamp() + (long)(budget.TotalSeconds * time.TimestampFrequency);
        while (IsSwitching(tenantId, homeRegion))
        {
            var published = Volatile.Read(ref _published).Task;
            var left = deadline - time.GetTimestamp();
            if (left <= 0 || !IsSwitching(tenantId, homeRegion))
            {
                return !IsSwitching(tenantId, homeRegion);
            }

            try
            {
                await published.WaitAsync(TimeSpan.FromSeconds((double)left / time.TimestampFrequency), time, cancellationToken);
            }
            catch (TimeoutException)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The tenant's active shards, by home region, with their owner region.</summary>
    public IEnumerable<(string Home, string Owner)> OwnersOf(string tenantId) =>
        _snapshot.Owners.Where(o => o.Key.Item1 == tenantId).Select(o => (o.Key.Item2, o.Value));

    /// <summary>A region's RADIUS endpoints.</summary>
    public RegionEndpoint? Region(string regionId) => _snapshot.Regions.GetValueOrDefault(regionId);

    /// <summary>True when packets from this address come from another region's node.</summary>
    public bool IsPeer(IPAddress address) => _snapshot.Peers.Contains(address) || Array.Exists(_peerNetworks, n => n.Contains(address));

    /// <summary>SHA-256 of a tenant's API key; false for an unknown tenant or one without a key.</summary>
    public bool TryGetApiKeyHash(string tenantId, out byte[] hash)
    {
        hash = _snapshot.ApiKeys.GetValueOrDefault(tenantId)!;
        return hash is not null;
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        await EnsureDirectoryAsync(cancellationToken);
        // A directory change (new owner, epoch, state, region, API key) is followed within a round trip of its commit;
        // the poll stays for what lives in the shard databases (plans, NAS devices) and as the safety net.
        directory.SnapshotPublished += OnSnapshotPublished;
        try
        {
            await PollAsync(cancellationToken);
        }
        finally
        {
            directory.SnapshotPublished -= OnSnapshotPublished;
        }

        void OnSnapshotPublished(object? sender, DirectorySnapshot snapshot) => _ = RefreshQuietlyAsync(cancellationToken);
    }

    /// <summary>
    /// Starts the directory client once, whoever asks first (the RADIUS server's start, or the background loop): a
    /// refresh never reads the empty snapshot of a client not started yet, which would say "no shard owned".
    /// </summary>
    private async Task EnsureDirectoryAsync(CancellationToken cancellationToken)
    {
        Task start;
        lock (_startLock)
        {
            if (_directoryStart is null || _directoryStart.IsCanceled || _directoryStart.IsFaulted)
            {
                _directoryStart = StartDirectoryAsync(cancellationToken);
            }

            start = _directoryStart;
        }

        await start.WaitAsync(cancellationToken);
    }

    /// <summary>The directory client is started once it can be reached; until then the node serves nothing (it knows no shard).</summary>
    private async Task StartDirectoryAsync(CancellationToken cancellationToken)
    {
        var backoff = TimeSpan.FromMilliseconds(250);
        while (true)
        {
            try
            {
                await directory.StartAsync(cancellationToken);
                return;
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is not InvalidOperationException)
            {
                LogRefreshFailed(logger, ex);
                await Task.Delay(backoff, time, cancellationToken);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
        }
    }

    private async Task RefreshQuietlyAsync(CancellationToken cancellationToken)
    {
        try
        {
            await RefreshAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException or DirectoryStoreException)
        {
            LogRefreshFailed(logger, ex);
        }
    }

    private async Task PollAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.RefreshInterval, time);
        do
        {
            try
            {
                await RefreshAsync(cancellationToken);
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException or DirectoryStoreException)
            {
                LogRefreshFailed(logger, ex);
            }
        }
        while (await timer.WaitForNextTickAsync(cancellationToken));
    }

    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        await EnsureDirectoryAsync(cancellationToken);
        await _refreshGate.WaitAsync(cancellationToken);
        try
        {
            var published = directory.Current;
            var (owned, standing, apiKeys, regions, owners) = await ReadDirectoryAsync(published, cancellationToken);
            var switching = published.Shards.Where(s => s.State == ShardState.Switching).Select(s => (s.Key.TenantId, s.Key.HomeRegion));
            var current = _snapshot.Shards;
            var shards = new Dictionary<(string, string), ShardHandle>();
            var nas = new Dictionary<IPAddress, NasClient>();
            var toLease = new List<ShardHandle>();
            foreach (var row in owned)
            {
                if (!current.TryGetValue((row.TenantId, row.HomeRegion), out var shard))
                {
                    // The group commit's statements run again and again with new arrays: prepared once per connection,
                    // they are neither parsed nor planned again.
                    var builder = new NpgsqlConnectionStringBuilder(_options.PostgresConnectionString)
                    {
                        Database = row.DatabaseName,
                        MaxAutoPrepare = 32,
                        AutoPrepareMinUsages = 2,
                    };
                    shard = new ShardHandle(row.TenantId, row.HomeRegion, row.DatabaseName, row.Epoch, NpgsqlDataSource.Create(builder.ConnectionString));
                    shard.Writer = writerFactory(shard);
                    LogShardAcquired(logger, shard, row.Epoch);
                    toLease.Add(shard);
                }
                else if (shard.Epoch != row.Epoch)
                {
                    // A newer epoch: whatever the lease was for, it is not for this one.
                    shard.RevokeLease();
                    OwnershipEnded?.Invoke(shard.DatabaseName);
                    LogEpochChanged(logger, shard, shard.Epoch, row.Epoch);
                    shard.Epoch = row.Epoch;
                    toLease.Add(shard);
                }

                shard.StandbyRegion = row.StandbyRegion;
                try
                {
                    var fence = await LoadShardContentsAsync(shard, nas, cancellationToken);
                    if (fence != row.Epoch)
                    {
                        // The database was promoted past this epoch (or not yet raised to it): never served so.
                        LogFenceMismatch(logger, shard, row.Epoch, fence);
                        shard.RevokeLease();
                        toLease.Remove(shard);
                        if (!current.ContainsKey((row.TenantId, row.HomeRegion)))
                        {
                            await shard.DisposeAsync();
                        }

                        continue;
                    }
                }
                catch (Exception ex) when (ex is NpgsqlException or IOException)
                {
                    // One unreachable shard database must not stop the node from serving the others.
                    LogShardUnavailable(logger, shard, ex);
                    toLease.Remove(shard);
                    if (!current.ContainsKey((row.TenantId, row.HomeRegion)))
                    {
                        await shard.DisposeAsync();
                    }

                    continue;
                }

                shards[(row.TenantId, row.HomeRegion)] = shard;
            }

            if (toLease.Count > 0)
            {
                // A shard is served from its first lease on: taken before it becomes visible, so a node never answers
                // for a shard it has no lease on, and a new owner answers as soon as it can.
                await leases.RenewAsync(toLease, cancellationToken);
            }

            var released = current.Values.Where(s => !shards.ContainsKey((s.TenantId, s.HomeRegion))).ToList();
            foreach (var shard in released)
            {
                shard.RevokeLease();
                OwnershipEnded?.Invoke(shard.DatabaseName);
            }

            var replicas = await LoadReplicasAsync(standing, nas, cancellationToken);
            var retiredReplicas = _snapshot.Replicas.Where(r => !replicas.TryGetValue(r.Key, out var kept) || !ReferenceEquals(kept, r.Value)).Select(r => r.Value).ToList();
            var peers = regions.Values.Where(r => r.Id != _options.RegionId).Select(r => r.Address).ToFrozenSet();
            _snapshot = new Snapshot(shards.ToFrozenDictionary(), nas.ToFrozenDictionary(), apiKeys.ToFrozenDictionary(StringComparer.Ordinal),
                regions.ToFrozenDictionary(StringComparer.Ordinal), owners.ToFrozenDictionary(), peers, replicas.ToFrozenDictionary(), switching.ToFrozenSet());
            Interlocked.Exchange(ref _published, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
            foreach (var shard in released)
            {
                LogShardReleased(logger, shard);
                await shard.DisposeAsync();
            }

            var now = time.GetTimestamp();
            _retiring.AddRange(retiredReplicas.Select(r => (r, now + (long)(ReplicaRetireGrace.TotalSeconds * time.TimestampFrequency))));
            foreach (var due in _retiring.Where(r => r.Due <= now).ToList())
            {
                _retiring.Remove(due);
                await due.Replica.DisposeAsync();
            }

            LastRefreshAt = time.GetUtcNow();
            _firstLoad.TrySetResult();
        }
        finally
        {
            _refreshGate.Release();
        }
    }

    /// <summary>What this region serves, read from the directory client's snapshot (no query of its own).</summary>
    private async Task<(List<OwnedShard> Shards, List<StandbyShard> Standing, Dictionary<string, byte[]> ApiKeys, Dictionary<string, RegionEndpoint> Regions,
        Dictionary<(string, string), string> Owners)> ReadDirectoryAsync(DirectorySnapshot snapshot, CancellationToken cancellationToken)
    {
        var rows = new List<OwnedShard>();
        var standing = new List<StandbyShard>();
        var owners = new Dictionary<(string, string), string>();
        foreach (var shard in snapshot.Shards)
        {
            if (shard.StandbyRegion == _options.RegionId && shard.OwnerRegion != _options.RegionId && shard.State != ShardState.Provisioning)
            {
                // Stood by for here: its replica answers for the owner when the owner cannot (also while it is promoted).
                standing.Add(new StandbyShard(shard.Key.TenantId, shard.Key.HomeRegion, shard.DatabaseName, shard.State == ShardState.Active ? shard.OwnerRegion : null));
            }

            if (shard.State != ShardState.Active)
            {
                continue;
            }

            owners[(shard.Key.TenantId, shard.Key.HomeRegion)] = shard.OwnerRegion;
            if (shard.OwnerRegion == _options.RegionId)
            {
                rows.Add(new OwnedShard(shard.Key.TenantId, shard.Key.HomeRegion, shard.Epoch, shard.DatabaseName, shard.StandbyRegion));
            }
        }

        var keys = new Dictionary<string, byte[]>(snapshot.Data.TenantApiKeyHashes, StringComparer.Ordinal);
        var regions = new Dictionary<string, RegionEndpoint>(StringComparer.Ordinal);
        foreach (var region in snapshot.Regions)
        {
            var host = region.RadiusHost;
            var address = IPAddress.TryParse(host, out var parsed) ? parsed : (await Dns.GetHostAddressesAsync(host, cancellationToken)).FirstOrDefault();
            if (address is not null)
            {
                regions[region.Id] = new RegionEndpoint(region.Id, address, region.RadiusAuthPort, region.RadiusAcctPort, region.ApiUrl);
            }
        }

        return (rows, standing, keys, regions, owners);
    }

    /// <summary>
    /// The replicas of the shards this region stands by for, with their plans and NAS devices (a NAS of a tenant homed
    /// elsewhere is known here too, so that its packets are answered when it fails over). A replica not readable yet (its
    /// first copy still running) is left out until it is.
    /// </summary>
    private async Task<Dictionary<(string, string), ShardHandle>> LoadReplicasAsync(List<StandbyShard> standing, Dictionary<IPAddress, NasClient> nas, CancellationToken cancellationToken)
    {
        var replicas = new Dictionary<(string, string), ShardHandle>();
        foreach (var row in standing)
        {
            var key = (row.TenantId, row.HomeRegion);
            var isNew = !_snapshot.Replicas.TryGetValue(key, out var replica) || replica.DatabaseName != row.DatabaseName;
            if (isNew)
            {
                var builder = new NpgsqlConnectionStringBuilder(_options.PostgresConnectionString)
                {
                    Database = row.DatabaseName,
                    // Read through a read-only session: the replica's guard is never lifted here.
                    Options = "-c default_transaction_read_only=on",
                    MaxAutoPrepare = 16,
                    AutoPrepareMinUsages = 2,
                };
                replica = new ShardHandle(row.TenantId, row.HomeRegion, row.DatabaseName, 0, NpgsqlDataSource.Create(builder.ConnectionString)) { IsReplica = true };
            }

            replica!.OwnerRegion = row.OwnerRegion;
            try
            {
                await LoadShardContentsAsync(replica, nas, cancellationToken);
            }
            catch (Exception ex) when (ex is NpgsqlException or IOException)
            {
                if (_unreadableReplicas.Add(replica.ToString()))
                {
                    LogReplicaUnavailable(logger, replica, ex.Message);
                }

                if (isNew)
                {
                    await replica.DisposeAsync();
                }

                continue;
            }

            _unreadableReplicas.Remove(replica.ToString());
            replicas[key] = replica;
        }

        return replicas;
    }

    /// <summary>Loads a shard's plans and NAS devices; returns the epoch of its database's fence (null without one).</summary>
    private async Task<long?> LoadShardContentsAsync(ShardHandle shard, Dictionary<IPAddress, NasClient> nas, CancellationToken cancellationToken)
    {
        await using var connection = await shard.DataSource.OpenConnectionAsync(cancellationToken);
        long? fence;
        await using (var command = new NpgsqlCommand("SELECT epoch FROM shard_fence", connection))
        {
            fence = await command.ExecuteScalarAsync(cancellationToken) as long?;
        }

        await using (var command = new NpgsqlCommand(
            """
            SELECT id, download_kbps, upload_kbps, session_timeout_s, interim_interval_s, simultaneous_use, framed_pool,
                   data_quota_bytes, time_quota_s, price_per_mb_micros, price_per_minute_micros, allow_overdraft, exhaustion_action,
                   validity_days, reset_day, throttle_download_kbps, throttle_upload_kbps
            FROM plans
            """, connection))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            var plans = new Dictionary<string, Plan>(StringComparer.Ordinal);
            while (await reader.ReadAsync(cancellationToken))
            {
                var tariff = new Tariff(
                    reader.IsDBNull(7) ? null : reader.GetInt64(7),
                    reader.IsDBNull(8) ? null : reader.GetInt64(8),
                    reader.GetInt64(9),
                    reader.GetInt64(10),
                    reader.GetBoolean(11),
                    reader.GetString(12) == "throttle" ? ExhaustionAction.Throttle : ExhaustionAction.Disconnect);
                plans[reader.GetString(0)] = new Plan(reader.GetString(0), NullableInt(reader, 1), NullableInt(reader, 2), NullableInt(reader, 3),
                    reader.GetInt32(4), reader.GetInt32(5), reader.IsDBNull(6) ? null : reader.GetString(6), tariff,
                    NullableInt(reader, 13), reader.IsDBNull(14) ? null : reader.GetInt16(14), NullableInt(reader, 15), NullableInt(reader, 16));
            }

            shard.Plans = plans.ToFrozenDictionary(StringComparer.Ordinal);
        }

        await using (var command = new NpgsqlCommand("""
            SELECT id, address, secret_enc, previous_secret_enc, previous_secret_expires_at, vendor, coa_port, require_message_authenticator
            FROM nas_devices
            """, connection))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var id = reader.GetString(0);
                var address = reader.GetFieldValue<IPAddress>(1);
                if (nas.ContainsKey(address))
                {
                    continue;
                }

                if (!secrets.TryOpen((byte[])reader[2], SecretContext.NasSecret(id), out var secret))
                {
                    LogNasSecretUnreadable(logger, id, shard);
                    continue;
                }

                byte[]? previous = null;
                if (!reader.IsDBNull(3) && !secrets.TryOpen((byte[])reader[3], SecretContext.NasSecret(id), out previous))
                {
                    previous = null;
                }

                nas[address] = new NasClient(shard.TenantId, id, address, secret, previous,
                    reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4), reader.GetString(5), reader.GetInt32(6), reader.GetBoolean(7));
            }
        }

        return fence;
    }

    private static int? NullableInt(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetInt32(ordinal);

    public async ValueTask DisposeAsync()
    {
        var snapshot = _snapshot;
        _snapshot = Snapshot.Empty;
        foreach (var shard in snapshot.Shards.Values.Concat(snapshot.Replicas.Values).Concat(_retiring.Select(r => r.Replica)))
        {
            await shard.DisposeAsync();
        }

        _retiring.Clear();

        // After the writers drained (their last batches committed under the lease): given back, so that a promotion of
        // a region shut down on purpose need not wait for the leases to run out.
        if (snapshot.Shards.Count > 0)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await leases.ReleaseAsync(snapshot.Shards.Values, timeout.Token);
        }

        _refreshGate.Dispose();
    }

    private sealed record OwnedShard(string TenantId, string HomeRegion, long Epoch, string DatabaseName, string? StandbyRegion);

    private sealed record StandbyShard(string TenantId, string HomeRegion, string DatabaseName, string? OwnerRegion);

    private sealed record Snapshot(
        FrozenDictionary<(string, string), ShardHandle> Shards,
        FrozenDictionary<IPAddress, NasClient> Nas,
        FrozenDictionary<string, byte[]> ApiKeys,
        FrozenDictionary<string, RegionEndpoint> Regions,
        FrozenDictionary<(string, string), string> Owners,
        FrozenSet<IPAddress> Peers,
        FrozenDictionary<(string, string), ShardHandle> Replicas,
        FrozenSet<(string, string)> Switching)
    {
        public static readonly Snapshot Empty = new(FrozenDictionary<(string, string), ShardHandle>.Empty, FrozenDictionary<IPAddress, NasClient>.Empty,
            FrozenDictionary<string, byte[]>.Empty, FrozenDictionary<string, RegionEndpoint>.Empty, FrozenDictionary<(string, string), string>.Empty, FrozenSet<IPAddress>.Empty,
            FrozenDictionary<(string, string), ShardHandle>.Empty, FrozenSet<(string, string)>.Empty);
    }

    [LoggerMessage(EventId = 1100, Level = LogLevel.Information, Message = "Shard {Shard} owned by this region at epoch {Epoch}")]
    private static partial void LogShardAcquired(ILogger logger, ShardHandle shard, long epoch);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Warning, Message = "Shard {Shard} epoch changed from {Old} to {New}")]
    private static partial void LogEpochChanged(ILogger logger, ShardHandle shard, long old, long @new);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Warning, Message = "Shard {Shard} is no longer owned by this region; its writer was drained and closed")]
    private static partial void LogShardReleased(ILogger logger, ShardHandle shard);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Error, Message = "Could not reload shards from the directory; serving the last known map")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1105, Level = LogLevel.Error, Message = "Shard {Shard} is owned by this region but its database cannot be read; not serving it")]
    private static partial void LogShardUnavailable(ILogger logger, ShardHandle shard, Exception exception);

    [LoggerMessage(EventId = 1106, Level = LogLevel.Error,
        Message = "Shard {Shard}: the directory gives epoch {Epoch} but its database's fence is at {Fence}; not serving it")]
    private static partial void LogFenceMismatch(ILogger logger, ShardHandle shard, long epoch, long? fence);

    [LoggerMessage(EventId = 1107, Level = LogLevel.Warning, Message = "Replica of shard {Shard} stood by for here cannot be read yet ({Reason}); its subscribers cannot be answered here if their owner is lost")]
    private static partial void LogReplicaUnavailable(ILogger logger, ShardHandle shard, string reason);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Error, Message = "NAS {NasId} of shard {Shard}: its sealed secret does not open with this key ring; NAS ignored")]
    private static partial void LogNasSecretUnreadable(ILogger logger, string nasId, ShardHandle shard);
}
