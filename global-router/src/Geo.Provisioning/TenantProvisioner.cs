using System.Globalization;
using Geo.Directory;
using Geo.Directory.Shards;
using Geo.Directory.Tenants;
using Geo.Schema;
using Npgsql;

namespace Geo.Provisioning;

/// <summary>One shard of a tenant to create: its home region and the region that stands by for it.</summary>
/// <param name="Home">The home (and first owner) region.</param>
/// <param name="Standby">The region holding its CDC replica, or null for none.</param>
public sealed record ShardPlan(string Home, string? Standby);

/// <summary>Timeouts of the lifecycle commands.</summary>
public sealed record ProvisioningOptions
{
    /// <summary>How long to wait for the standby region's replicator to start streaming a new shard.</summary>
    public TimeSpan ReplicationTimeout { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>How long to wait for a replicator to let go of a retired shard's slot before its session is ended.</summary>
    public TimeSpan ReleaseTimeout { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>What a creation left: the shards, and the API key when this run issued it (shown once).</summary>
/// <param name="TenantId">The tenant.</param>
/// <param name="ApiKey">The key issued by this run, or null when the tenant had one already.</param>
/// <param name="ApiKeyNote">Where the key is, for the operator.</param>
/// <param name="Shards">The tenant's shards afterwards.</param>
public sealed record TenantCreated(string TenantId, string? ApiKey, string ApiKeyNote, IReadOnlyList<Shard> Shards);

/// <summary>
/// Onboards, extends and retires tenants as idempotent steps that keep the platform consistent throughout: a shard is
/// recorded <c>provisioning</c> before its database exists and turns <c>active</c> only once migrated, fenced and
/// replicating. An interrupted command is finished by running it again, or undone with <see cref="AbortAsync"/>.
/// </summary>
public sealed class TenantProvisioner
{
    private readonly IDirectoryStore _directory;
    private readonly ShardStorage _storage;
    private readonly IProvisioningProgress _progress;
    private readonly ProvisioningOptions _options;
    private readonly ITenantKeyStore? _keys;

    /// <summary>Creates the provisioner.</summary>
    public TenantProvisioner(IDirectoryStore directory, PlatformDatabases databases, IProvisioningProgress progress,
        ProvisioningOptions? options = null, ITenantKeyStore? keys = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentNullException.ThrowIfNull(databases);
        ArgumentNullException.ThrowIfNull(progress);
        _directory = directory;
        _storage = new ShardStorage(databases, time ?? TimeProvider.System);
        _progress = progress;
        _options = options ?? new ProvisioningOptions();
        _keys = keys;
    }

    /// <summary>
    /// Creates a tenant with a shard per home region (database, migrations, fence at epoch 1, replica in the
    /// standby region, directory entries, API key). Resumes an interrupted creation with the same homes.
    /// </summary>
    public async Task<TenantCreated> CreateAsync(string tenantId, string displayName, IReadOnlyList<ShardPlan> shards, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(shards);
        await using var exclusive = await TenantLock.AcquireAsync(_storage.Databases, tenantId, cancellationToken);
        var data = await _directory.LoadAsync(cancellationToken);
        ValidatePlan(data, tenantId, shards);
        var existing = data.Shards.Where(s => s.Key.TenantId == tenantId).ToList();
        RefuseWhileRetiring(existing);
        var homes = shards.Select(s => s.Home).ToHashSet(StringComparer.Ordinal);
        var unfinished = existing.Where(s => s.State is ShardState.Provisioning).ToList();
        if (existing.Count > 0 && unfinished.Count == 0)
        {
            if (homes.SetEquals(existing.Select(s => s.Key.HomeRegion)))
            {
                _progress.Line($"Tenant {tenantId} exists with shards {Describe(existing)}.");
                var (key, note) = await _progress.StepAsync($"directory: API key of {tenantId}", () => EnsureApiKeyAsync(tenantId, cancellationToken), r => r.Note);
                return new TenantCreated(tenantId, key, note, existing);
            }

            throw new ProvisioningException(
                $"tenant {tenantId} exists with shards {Describe(existing)}; add a region with 'tenant add-region', retire one with 'tenant retire-shard'");
        }

        if (existing.FirstOrDefault(s => !homes.Contains(s.Key.HomeRegion)) is { } other)
        {
            throw new ProvisioningException(
                $"an unfinished creation of tenant {tenantId} has shard {other.Key} (homes {Describe(existing)}): run it again with the same homes, or with --abort to undo it");
        }

        await _progress.StepAsync($"directory: tenant {tenantId}", () => _directory.UpsertTenantAsync(new Tenant(tenantId, displayName), cancellationToken));
        return await ProvisionShardsAsync(tenantId, shards, existing, cancellationToken);
    }

    /// <summary>Adds a shard in a new home region to an existing tenant (same steps as a creation); resumable.</summary>
    public async Task<TenantCreated> AddRegionAsync(string tenantId, ShardPlan shard, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(shard);
        await using var exclusive = await TenantLock.AcquireAsync(_storage.Databases, tenantId, cancellationToken);
        var data = await _directory.LoadAsync(cancellationToken);
        if (!data.Tenants.Any(t => t.Id == tenantId))
        {
            throw new ProvisioningException($"no tenant {tenantId}: create it with 'tenant create'");
        }

        ValidatePlan(data, tenantId, [shard]);
        var existing = data.Shards.Where(s => s.Key.TenantId == tenantId).ToList();
        RefuseWhileRetiring(existing.Where(s => s.Key.HomeRegion == shard.Home).ToList());
        if (existing.FirstOrDefault(s => s.Key.HomeRegion == shard.Home) is { State: not ShardState.Provisioning } done)
        {
            _progress.Line($"Tenant {tenantId} has shard {done.Key} already ({ShardStates.ToText(done.State)}): nothing to do.");
            return new TenantCreated(tenantId, null, await KeyNoteAsync(tenantId, cancellationToken), existing);
        }

        return await ProvisionShardsAsync(tenantId, [shard], existing, cancellationToken);
    }

    /// <summary>
    /// Undoes an unfinished creation (<c>tenant create --abort</c>) or extension (<c>tenant add-region --abort</c>):
    /// removes every shard of the tenant still provisioning (replication, slot, databases, directory entries), and,
    /// for a creation, the tenant itself when no shard is left and it has no NAS. Returns how many shards it removed.
    /// </summary>
    public async Task<int> AbortAsync(string tenantId, bool removeTenant, CancellationToken cancellationToken)
    {
        await using var exclusive = await TenantLock.AcquireAsync(_storage.Databases, tenantId, cancellationToken);
        var data = await _directory.LoadAsync(cancellationToken);
        var shards = data.Shards.Where(s => s.Key.TenantId == tenantId).ToList();
        var unfinished = new List<Shard>();
        foreach (var shard in shards.Where(s => s.State is ShardState.Provisioning or ShardState.Retiring))
        {
            // An interrupted abort leaves its shards retiring; a retirement of a shard in service left them so too, and
            // that one is finished by 'retire-shard' (with its --archive): a shard that holds subscribers is not an abort's.
            if (shard.State is ShardState.Retiring && await _storage.CountSubscribersAsync(shard.OwnerRegion, shard.DatabaseName, cancellationToken) is > 0)
            {
                _progress.Line($"Shard {shard.Key} is being retired and holds subscribers: finish it with 'tenant retire-shard {tenantId} {shard.Key.HomeRegion}'.");
                continue;
            }

            unfinished.Add(shard);
        }

        if (unfinished.Count == 0 && shards.Count > 0)
        {
            throw new ProvisioningException(
                $"tenant {tenantId} has no unfinished creation to undo (shards {Describe(shards)}); retire a shard with 'tenant retire-shard'");
        }

        foreach (var shard in unfinished)
        {
            await RemoveShardAsync(shard, archive: null, cancellationToken);
        }

        var tenantExists = data.Tenants.Any(t => t.Id == tenantId);
        if (removeTenant && tenantExists && shards.Count == unfinished.Count)
        {
            // A tenant with NAS was in service before (its shards retired since): an abort never takes it away.
            if (data.NasDevices.Any(n => n.TenantId == tenantId))
            {
                _progress.Line($"Tenant {tenantId} keeps its directory entry: it has NAS devices ('nas list --tenant {tenantId}').");
            }
            else
            {
                await _progress.StepAsync($"directory: remove tenant {tenantId}", async () =>
                {
                    await _directory.DeleteTenantAsync(tenantId, cancellationToken);
                    if (_keys is not null)
                    {
                        await _keys.DeleteAsync(tenantId, cancellationToken);
                    }
                });
            }
        }
        else if (shards.Count == 0 && !tenantExists)
        {
            _progress.Line($"Nothing of tenant {tenantId} to remove.");
        }

        return unfinished.Count;
    }

    /// <summary>
    /// Retires a shard: refused while it has subscribers unless <paramref name="force"/>; stops its replication,
    /// drops its slot and publication, archives (when <paramref name="archive"/> is given) and drops its databases,
    /// and removes its directory entries. Resumable.
    /// </summary>
    public async Task RetireShardAsync(string tenantId, string region, bool force, Func<string, string, CancellationToken, Task<string>>? archive, CancellationToken cancellationToken)
    {
        await using var exclusive = await TenantLock.AcquireAsync(_storage.Databases, tenantId, cancellationToken);
        var data = await _directory.LoadAsync(cancellationToken);
        var shard = data.Shards.FirstOrDefault(s => s.Key == new ShardKey(tenantId, region))
            ?? throw new ProvisioningException($"tenant {tenantId} has no shard homed in {region} (shards: {Describe(data.Shards.Where(s => s.Key.TenantId == tenantId).ToList())})");
        if (shard.State is not (ShardState.Active or ShardState.Provisioning or ShardState.Retiring))
        {
            throw new ProvisioningException($"shard {shard.Key} is {ShardStates.ToText(shard.State)}: a DR operation is in progress; retire it after it ends");
        }

        if (shard.State is not ShardState.Retiring)
        {
            var subscribers = await _storage.CountSubscribersAsync(shard.OwnerRegion, shard.DatabaseName, cancellationToken) ?? 0;
            if (subscribers > 0 && !force)
            {
                throw new ProvisioningException(
                    $"shard {shard.Key} still has {subscribers.ToString("N0", CultureInfo.InvariantCulture)} subscribers; move or delete them first, or retire with --force to delete them with the shard");
            }

            if (subscribers > 0)
            {
                _progress.Line($"--force: {subscribers.ToString("N0", CultureInfo.InvariantCulture)} subscribers of {shard.Key} are deleted with it");
            }
        }

        if (shard.State is ShardState.Active)
        {
            // Out of service first, then counted again: a subscriber created between the count above and now is not
            // dropped without --force. The refusal puts the shard back in service.
            await _progress.StepAsync($"directory: shard {shard.Key} retiring", () => SetStateAsync(shard, ShardState.Active, ShardState.Retiring, cancellationToken));
            shard = shard with { State = ShardState.Retiring };
            var late = await _storage.CountSubscribersAsync(shard.OwnerRegion, shard.DatabaseName, cancellationToken) ?? 0;
            if (late > 0 && !force)
            {
                await SetStateAsync(shard, ShardState.Retiring, ShardState.Active, cancellationToken);
                throw new ProvisioningException($"shard {shard.Key} got {late} subscribers meanwhile; it stays in service (retire with --force to delete them with it)");
            }
        }

        await RemoveShardAsync(shard, archive, cancellationToken);
        if (!data.Shards.Any(s => s.Key.TenantId == tenantId && s.Key != shard.Key))
        {
            _progress.Line($"Tenant {tenantId} has no shard left; its directory entry and NAS stay until it gets a shard again ('tenant add-region').");
        }
    }

    private async Task<TenantCreated> ProvisionShardsAsync(string tenantId, IReadOnlyList<ShardPlan> plans, List<Shard> existing, CancellationToken cancellationToken)
    {
        var created = new List<Shard>();
        foreach (var plan in plans)
        {
            var database = ShardDatabase.Name(tenantId, plan.Home);
            var shard = await _progress.StepAsync($"directory: shard {tenantId}@{plan.Home} (provisioning, epoch 1)", () => _directory.CreateShardAsync(
                new Shard(new ShardKey(tenantId, plan.Home), plan.Home, plan.Standby, 1, ShardState.Provisioning, null, database), cancellationToken),
                s => s.StandbyRegion is { } standby ? $"standby {standby}" : "no standby");
            if (shard.StandbyRegion != plan.Standby || shard.OwnerRegion != plan.Home)
            {
                throw new ProvisioningException(
                    $"shard {shard.Key} exists with owner {shard.OwnerRegion} and standby {shard.StandbyRegion ?? "none"}, not standby {plan.Standby ?? "none"}: run again as it was started, or --abort");
            }

            created.Add(shard);
        }

        var sources = existing.Where(s => s.State == ShardState.Active).ToList();
        foreach (var shard in created)
        {
            await ProvisionDatabasesAsync(shard, sources, cancellationToken);
        }

        await _progress.StepAsync($"directory: shards of {tenantId} active", async () =>
        {
            foreach (var shard in created)
            {
                var result = await _directory.TrySetShardStateAsync(shard.Key, ShardState.Provisioning, ShardState.Active, cancellationToken);
                if (!result.Succeeded && result.Current?.State != ShardState.Active)
                {
                    throw new ProvisioningException($"shard {shard.Key} could not be activated: it is {(result.Current is { } c ? ShardStates.ToText(c.State) : "gone")}");
                }
            }
        });


        // The key last: a key handed out belongs to a tenant in service (a resumed creation issues it if it is missing).
        var (key, note) = await _progress.StepAsync($"directory: API key of {tenantId}", () => EnsureApiKeyAsync(tenantId, cancellationToken), r => r.Note);
        var data = await _directory.LoadAsync(cancellationToken);
        return new TenantCreated(tenantId, key, note, data.Shards.Where(s => s.Key.TenantId == tenantId).ToList());
    }

    private async Task ProvisionDatabasesAsync(Shard shard, List<Shard> sources, CancellationToken cancellationToken)
    {
        var name = $"shard {shard.Key}";
        await _progress.StepAsync($"{name}: database {shard.DatabaseName} in {shard.OwnerRegion}",
            () => _storage.EnsureDatabaseAsync(shard.OwnerRegion, shard.DatabaseName, cancellationToken), c => c ? "created" : "exists");
        await _progress.StepAsync($"{name}: migrations and fence (epoch 1)",
            () => _storage.MigrateAndFenceAsync(shard.OwnerRegion, shard.DatabaseName, shard.Key.TenantId, shard.Key.HomeRegion, cancellationToken),
            r => r.Applied.Count == 0 ? "up to date" : $"applied {string.Join(", ", r.Applied.Select(m => m.FileName))}");
        if (sources.Count > 0)
        {
            await _progress.StepAsync($"{name}: NAS inventory", () => CopyNasInventoryAsync(sources[0], shard, cancellationToken), n => $"{n} NAS from {sources[0].Key}");
        }

        if (shard.StandbyRegion is { } standby)
        {
            await _progress.StepAsync($"{name}: replica {shard.DatabaseName} in {standby} (read-only, migrated)",
                () => ShardStorage.PrepareReplicaAsync(_storage.Databases, standby, shard.DatabaseName, cancellationToken));
            await _progress.StepAsync($"{name}: replication to {standby}",
                () => _storage.WaitForReplicationAsync(shard.OwnerRegion, standby, shard.DatabaseName, _options.ReplicationTimeout, cancellationToken),
                slot => $"streaming (slot {slot})");
        }
    }

    /// <summary>Every shard of a tenant knows all of the tenant's NAS (a backup region must recognise them): a new shard gets a copy.</summary>
    private async Task<int> CopyNasInventoryAsync(Shard from, Shard to, CancellationToken cancellationToken)
    {
        var rows = new List<object?[]>();
        await using (var source = new NpgsqlConnection(_storage.Databases.Database(from.OwnerRegion, from.DatabaseName)))
        {
            await source.OpenAsync(cancellationToken);
            await using var read = new NpgsqlCommand(
                "SELECT id, address, secret_enc, previous_secret_enc, previous_secret_expires_at, vendor, coa_port, require_message_authenticator FROM nas_devices", source);
            await using var reader = await read.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var row = new object?[reader.FieldCount];
                reader.GetValues(row!);
                rows.Add(row);
            }
        }

        await using var target = new NpgsqlConnection(_storage.Databases.Database(to.OwnerRegion, to.DatabaseName));
        await target.OpenAsync(cancellationToken);
        foreach (var row in rows)
        {
            await using var insert = new NpgsqlCommand("""
                INSERT INTO nas_devices (id, address, secret_enc, previous_secret_enc, previous_secret_expires_at, vendor, coa_port, require_message_authenticator)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING
                """, target);
            foreach (var value in row)
            {
                insert.Parameters.Add(new NpgsqlParameter { Value = value ?? DBNull.Value });
            }

            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        return rows.Count;
    }

    private async Task<(string? Key, string Note)> EnsureApiKeyAsync(string tenantId, CancellationToken cancellationToken)
    {
        var kept = _keys is null ? null : await _keys.FindAsync(tenantId, cancellationToken);
        var key = kept ?? TenantApiKeys.New(tenantId);
        if (kept is null && _keys is not null)
        {
            // Kept before the hash is stored: a run interrupted in between finds it and hands out the same key.
            await _keys.SaveAsync(tenantId, key, cancellationToken);
        }

        if (await _directory.SetTenantApiKeyHashAsync(tenantId, TenantApiKeys.Hash(key), onlyIfUnset: true, cancellationToken))
        {
            return (key, _keys is null ? "issued (shown once)" : $"issued, kept in {_keys.Describe(tenantId)}");
        }

        if (kept is null && _keys is not null)
        {
            // The tenant had a key from elsewhere: the one just kept is not valid.
            await _keys.DeleteAsync(tenantId, cancellationToken);
        }

        return (null, await KeyNoteAsync(tenantId, cancellationToken));
    }

    private async Task<string> KeyNoteAsync(string tenantId, CancellationToken cancellationToken) =>
        _keys is not null && await _keys.FindAsync(tenantId, cancellationToken) is not null
            ? $"issued earlier, kept in {_keys.Describe(tenantId)}"
            : "issued earlier (not shown again; 'tenant rotate-key' issues a new one)";

    /// <summary>Issues a new API key for a tenant, replacing the old one at once.</summary>
    public async Task<string> RotateApiKeyAsync(string tenantId, CancellationToken cancellationToken)
    {
        var key = TenantApiKeys.New(tenantId);
        if (!await _directory.SetTenantApiKeyHashAsync(tenantId, TenantApiKeys.Hash(key), onlyIfUnset: false, cancellationToken))
        {
            throw new ProvisioningException($"no tenant {tenantId}");
        }

        if (_keys is not null)
        {
            await _keys.SaveAsync(tenantId, key, cancellationToken);
        }

        return key;
    }

    private async Task RemoveShardAsync(Shard shard, Func<string, string, CancellationToken, Task<string>>? archive, CancellationToken cancellationToken)
    {
        var name = $"shard {shard.Key}";
        if (shard.State is not ShardState.Retiring)
        {
            // Out of service first: region nodes release it, the standby's replicator stops streaming it.
            await _progress.StepAsync($"directory: {name} retiring", () => SetStateAsync(shard, shard.State, ShardState.Retiring, cancellationToken));
        }

        var owner = shard.OwnerRegion;
        var database = shard.DatabaseName;
        if (shard.StandbyRegion is not null)
        {
            await _progress.StepAsync($"{name}: stop replication", () => _storage.WaitForSlotsReleasedAsync(owner, database, _options.ReleaseTimeout, cancellationToken),
                released => released ? "no replicator holds its slot" : $"a replicator still held its slot after {_options.ReleaseTimeout.TotalSeconds:F0} s; its session is ended");
        }

        if (archive is not null && await _storage.DatabaseExistsAsync(owner, database, cancellationToken))
        {
            await _progress.StepAsync($"{name}: archive {database}", () => archive(owner, database, cancellationToken), path => path);
        }

        await _progress.StepAsync($"{name}: drop slot, publication and database {database} in {owner}", () => _storage.DropSourceAsync(owner, database, cancellationToken),
            slots => slots.Count == 0 ? "done" : $"dropped slot {string.Join(", ", slots)}");
        if (shard.StandbyRegion is { } standby)
        {
            await _progress.StepAsync($"{name}: drop replica {database} in {standby}", () => _storage.DropDatabaseAsync(standby, database, cancellationToken),
                dropped => dropped ? "dropped" : "none");
        }

        await _progress.StepAsync($"directory: remove {name} and its placements", () => _directory.DeleteShardAsync(shard.Key, cancellationToken),
            deleted => deleted ? "removed" : "gone already");

        // A replicator that had not yet seen the retirement may have recreated something meanwhile: nothing may stay.
        var left = new List<string>();
        foreach (var region in new[] { owner, shard.StandbyRegion }.OfType<string>())
        {
            if (await _storage.DatabaseExistsAsync(region, database, cancellationToken))
            {
                await _storage.DropSourceAsync(region, database, cancellationToken);
                left.Add(region);
            }
        }

        if (left.Count > 0)
        {
            _progress.Line($"{name}: {database} had reappeared in {string.Join(", ", left)} (a replicator acting late); dropped again");
        }
    }

    private async Task SetStateAsync(Shard shard, ShardState from, ShardState to, CancellationToken cancellationToken)
    {
        var result = await _directory.TrySetShardStateAsync(shard.Key, from, to, cancellationToken);
        if (!result.Succeeded && result.Current?.State != to)
        {
            throw new ProvisioningException(
                $"shard {shard.Key} is {(result.Current is { } current ? ShardStates.ToText(current.State) : "gone")}, not {ShardStates.ToText(from)}: it changed meanwhile; run the command again");
        }
    }

    private static void RefuseWhileRetiring(List<Shard> shards)
    {
        if (shards.FirstOrDefault(s => s.State is ShardState.Retiring) is { } retiring)
        {
            throw new ProvisioningException(
                $"shard {retiring.Key} is being retired: finish that first ('tenant retire-shard {retiring.Key.TenantId} {retiring.Key.HomeRegion}', or 'tenant create {retiring.Key.TenantId} --abort' if its creation was being undone)");
        }
    }

    private void ValidatePlan(DirectoryData data, string tenantId, IReadOnlyList<ShardPlan> shards)
    {
        if (shards.Count == 0)
        {
            throw new ProvisioningException("give at least one home region (--home)");
        }

        foreach (var shard in shards)
        {
            try
            {
                _ = ShardDatabase.Name(tenantId, shard.Home);
            }
            catch (ArgumentException ex)
            {
                throw new ProvisioningException(ex.Message);
            }

            foreach (var region in new[] { shard.Home, shard.Standby }.OfType<string>())
            {
                if (!data.Regions.Any(r => r.Id == region))
                {
                    throw new ProvisioningException($"region {region} is not in the directory (regions: {string.Join(", ", data.Regions.Select(r => r.Id))})");
                }

                if (!_storage.Databases.HasRegion(region))
                {
                    throw new ProvisioningException($"no PostgreSQL server is configured for region {region}");
                }
            }

            if (shard.Standby == shard.Home)
            {
                throw new ProvisioningException($"the standby of {tenantId}@{shard.Home} must be another region");
            }
        }

        if (shards.Select(s => s.Home).Distinct(StringComparer.Ordinal).Count() != shards.Count)
        {
            throw new ProvisioningException("each home region may be given once");
        }
    }

    private static string Describe(List<Shard> shards) =>
        shards.Count == 0 ? "(none)" : string.Join(", ", shards.Select(s => $"{s.Key} ({ShardStates.ToText(s.State)})"));
}
