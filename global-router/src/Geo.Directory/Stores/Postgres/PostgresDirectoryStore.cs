using System.Data;
using System.Net;
using Geo.Directory.Nas;
using Geo.Directory.Placement;
using Geo.Directory.Recovery;
using Geo.Directory.Regions;
using Geo.Directory.Shards;
using Geo.Directory.Tenants;
using Npgsql;
using NpgsqlTypes;

namespace Geo.Directory.Stores.Postgres;

/// <summary>
/// The directory in PostgreSQL (the embedded default, schema in <c>schema/migrations/directory</c>). Compare-and-set is one
/// <c>UPDATE ... WHERE epoch = @expected</c>; changes arrive by LISTEN on <c>geo_directory</c> and <c>geo_placements</c>.
/// Owner leases (<c>shard_owner_leases</c>) and the DR event log (<c>dr_events</c>) sit in tables without a notify
/// trigger: renewing a lease every second must not make every process reload the control plane.
/// </summary>
public sealed class PostgresDirectoryStore : IDirectoryStore
{
    internal const string DirectoryChannel = "geo_directory";
    internal const string PlacementsChannel = "geo_placements";

    private const string ShardColumns =
        "tenant_id, home_region, owner_region, standby_region, epoch, state, lease_holder, lease_expires_at, database_name";

    private const string DrEventColumns =
        "id, at, tenant_id, home_region, operation, step, outcome, detail, operator, data::text, elapsed_ms";

    private readonly NpgsqlDataSource _dataSource;

    /// <summary>A store over the directory database at <paramref name="connectionString"/>.</summary>
    public PostgresDirectoryStore(string connectionString)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionString);
        _dataSource = NpgsqlDataSource.Create(connectionString);
    }

    /// <inheritdoc />
    public async Task<DirectoryData> LoadAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        // One snapshot for all four tables: a shard never refers to a region the same load does not see.
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);
        await using var batch = new NpgsqlBatch(connection, transaction)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand("SELECT id, display_name, api_url, radius_host, radius_auth_port, radius_acct_port FROM regions ORDER BY id"),
                new NpgsqlBatchCommand("SELECT id, display_name, api_key_hash FROM tenants ORDER BY id"),
                new NpgsqlBatchCommand($"SELECT {ShardColumns} FROM shards ORDER BY tenant_id, home_region"),
                new NpgsqlBatchCommand("SELECT tenant_id, id, address, primary_region, backup_region FROM nas_devices ORDER BY tenant_id, id"),
            },
        };

        var regions = new List<Region>();
        var tenants = new List<Tenant>();
        var apiKeyHashes = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var shards = new List<Shard>();
        var nasDevices = new List<NasDevice>();
        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                regions.Add(ReadRegion(reader));
            }

            await reader.NextResultAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                tenants.Add(new Tenant(reader.GetString(0), reader.GetString(1)));
                if (!reader.IsDBNull(2))
                {
                    apiKeyHashes[tenants[^1].Id] = reader.GetFieldValue<byte[]>(2);
                }
            }

            await reader.NextResultAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                shards.Add(ReadShard(reader));
            }

            await reader.NextResultAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                nasDevices.Add(new NasDevice(
                    reader.GetString(0), reader.GetString(1), reader.GetFieldValue<IPAddress>(2), reader.GetString(3),
                    reader.IsDBNull(4) ? null : reader.GetString(4)));
            }
        }

        await transaction.CommitAsync(cancellationToken);
        return new DirectoryData { Regions = regions, Tenants = tenants, Shards = shards, NasDevices = nasDevices, TenantApiKeyHashes = apiKeyHashes };
    }

    /// <inheritdoc />
    public async Task LoadPlacementsAsync(PlacementIndex target, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        // Binary COPY: a million placements stream in about a second, without a result set held in memory.
        await using var export = await connection.BeginBinaryExportAsync(
            "COPY subscriber_placements (tenant_id, home_region, username) TO STDOUT (FORMAT BINARY)", cancellationToken);
        var tenant = "";
        var region = "";
        while (await export.StartRowAsync(cancellationToken) != -1)
        {
            // Rows come in runs of one tenant and region: keep one string of each instead of a copy per row.
            var rowTenant = await export.ReadAsync<string>(NpgsqlDbType.Text, cancellationToken);
            var rowRegion = await export.ReadAsync<string>(NpgsqlDbType.Text, cancellationToken);
            var username = await export.ReadAsync<string>(NpgsqlDbType.Text, cancellationToken);
            tenant = string.Equals(rowTenant, tenant, StringComparison.Ordinal) ? tenant : rowTenant;
            region = string.Equals(rowRegion, region, StringComparison.Ordinal) ? region : rowRegion;
            target.Set(tenant, username, region);
        }
    }

    /// <inheritdoc />
    public async Task<SubscriberPlacement?> GetPlacementAsync(string tenantId, string username, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(
            "SELECT tenant_id, username, home_region, created_at FROM subscriber_placements WHERE tenant_id = $1 AND username = $2");
        command.Parameters.Add(Text(tenantId));
        command.Parameters.Add(Text(username));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadPlacement(reader) : null;
    }

    /// <inheritdoc />
    public async Task<IDirectoryWatch> WatchAsync(CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            var watch = new PostgresDirectoryWatch(connection);
            await using (var listen = new NpgsqlCommand($"LISTEN {DirectoryChannel}; LISTEN {PlacementsChannel}", connection))
            {
                await listen.ExecuteNonQueryAsync(cancellationToken);
            }

            return watch;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <inheritdoc />
    public async Task<ShardUpdateResult> TryUpdateShardAsync(ShardKey key, long expectedEpoch, ShardUpdate update, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(update);
        await using var command = _dataSource.CreateCommand($"""
            UPDATE shards SET
                owner_region   = COALESCE($4, owner_region),
                standby_region = CASE WHEN $5 THEN $6
                                      WHEN $4 IS NOT NULL AND standby_region = $4 THEN NULL
                                      ELSE standby_region END,
                state          = COALESCE($7, state),
                epoch          = CASE WHEN $8 THEN epoch + 1 ELSE epoch END,
                updated_at     = now()
            WHERE tenant_id = $1 AND home_region = $2 AND epoch = $3
            RETURNING {ShardColumns}
            """);
        command.Parameters.Add(Text(key.TenantId));
        command.Parameters.Add(Text(key.HomeRegion));
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = expectedEpoch });
        command.Parameters.Add(Text(update.OwnerRegion));
        command.Parameters.Add(new NpgsqlParameter<bool> { TypedValue = update.ChangeStandby });
        command.Parameters.Add(Text(update.StandbyRegion));
        command.Parameters.Add(Text(update.State is { } state ? ShardStates.ToText(state) : null));
        command.Parameters.Add(new NpgsqlParameter<bool> { TypedValue = update.RaisesEpoch });
        return await SingleShardOrCurrentAsync(command, key, ShardUpdateOutcome.EpochMismatch, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<ShardUpdateResult> TryAcquireLeaseAsync(ShardKey key, string holder, TimeSpan duration, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(holder);
        // The database clock decides expiry, so that holders on different machines agree on it.
        await using var command = _dataSource.CreateCommand($"""
            UPDATE shards SET lease_holder = $3, lease_expires_at = now() + $4 * interval '1 millisecond'
            WHERE tenant_id = $1 AND home_region = $2
              AND (lease_holder IS NULL OR lease_holder = $3 OR lease_expires_at IS NULL OR lease_expires_at <= now())
            RETURNING {ShardColumns}
            """);
        command.Parameters.Add(Text(key.TenantId));
        command.Parameters.Add(Text(key.HomeRegion));
        command.Parameters.Add(Text(holder));
        command.Parameters.Add(new NpgsqlParameter<double> { TypedValue = duration.TotalMilliseconds });
        return await SingleShardOrCurrentAsync(command, key, ShardUpdateOutcome.LeaseHeld, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<bool> ReleaseLeaseAsync(ShardKey key, string holder, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(
            "UPDATE shards SET lease_holder = NULL, lease_expires_at = NULL WHERE tenant_id = $1 AND home_region = $2 AND lease_holder = $3");
        command.Parameters.Add(Text(key.TenantId));
        command.Parameters.Add(Text(key.HomeRegion));
        command.Parameters.Add(Text(holder));
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <inheritdoc />
    public async Task<OwnerLeaseRenewal> RenewOwnerLeasesAsync(
        string region, IReadOnlyList<(ShardKey Key, long Epoch)> shards, TimeSpan ttl, CancellationToken cancellationToken)
    {
        OwnerLeases.ValidateRenewal(region, shards, ttl);
        // One statement. FOR SHARE orders it with every change of a shard row (a promotion's UPDATE waits for it, or it
        // waits for the UPDATE and then sees the new epoch), so no lease at an old epoch is extended after the change.
        // Lease rows are written in key order, so that two nodes of one region renewing at once cannot deadlock.
        // clock_timestamp(), read once: the directory's clock when the statement runs.
        await using var command = _dataSource.CreateCommand("""
            WITH clock AS MATERIALIZED (SELECT clock_timestamp() AS now),
            wanted AS (
                SELECT DISTINCT tenant_id, home_region, epoch FROM unnest($2::text[], $3::text[], $4::bigint[]) AS w (tenant_id, home_region, epoch)),
            eligible AS (
                SELECT s.tenant_id, s.home_region, s.epoch FROM shards s
                JOIN wanted w ON w.tenant_id = s.tenant_id AND w.home_region = s.home_region AND w.epoch = s.epoch
                WHERE s.owner_region = $1 AND s.state IN ('active', 'retiring')
                FOR SHARE OF s),
            granted AS (
                INSERT INTO shard_owner_leases AS l (tenant_id, home_region, holder, epoch, expires_at, renewed_at)
                SELECT e.tenant_id, e.home_region, $1, e.epoch, c.now + $5 * interval '1 millisecond', c.now
                FROM eligible e CROSS JOIN clock c ORDER BY e.tenant_id, e.home_region
                ON CONFLICT (tenant_id, home_region) DO UPDATE SET
                    holder = EXCLUDED.holder, epoch = EXCLUDED.epoch, expires_at = EXCLUDED.expires_at, renewed_at = EXCLUDED.renewed_at
                RETURNING l.tenant_id, l.home_region, l.holder, l.epoch, l.expires_at, l.renewed_at)
            SELECT c.now, g.tenant_id, g.home_region, g.holder, g.epoch, g.expires_at, g.renewed_at
            FROM clock c LEFT JOIN granted g ON true
            ORDER BY g.tenant_id COLLATE "C", g.home_region COLLATE "C"
            """);
        command.Parameters.Add(Text(region));
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. shards.Select(s => s.Key.TenantId)], NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. shards.Select(s => s.Key.HomeRegion)], NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [.. shards.Select(s => s.Epoch)], NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
        command.Parameters.Add(new NpgsqlParameter<double> { TypedValue = ttl.TotalMilliseconds });
        var (now, granted) = await ReadOwnerLeasesAsync(command, cancellationToken);
        return new OwnerLeaseRenewal(now, granted);
    }

    /// <inheritdoc />
    public async Task<OwnerLeaseView> LoadOwnerLeasesAsync(CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand("""
            SELECT c.now, l.tenant_id, l.home_region, l.holder, l.epoch, l.expires_at, l.renewed_at
            FROM (SELECT clock_timestamp() AS now) c LEFT JOIN shard_owner_leases l ON true
            ORDER BY l.tenant_id COLLATE "C", l.home_region COLLATE "C"
            """);
        var (now, leases) = await ReadOwnerLeasesAsync(command, cancellationToken);
        return new OwnerLeaseView(now, leases);
    }

    /// <inheritdoc />
    public async Task ReleaseOwnerLeasesAsync(string region, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(region);
        // Rows locked in key order, as renewals write them: a node of the region renewing meanwhile cannot deadlock with it.
        await using var command = _dataSource.CreateCommand("""
            WITH clock AS MATERIALIZED (SELECT clock_timestamp() AS now),
            held AS (
                SELECT l.tenant_id, l.home_region FROM shard_owner_leases l CROSS JOIN clock c
                WHERE l.holder = $1 AND l.expires_at > c.now
                ORDER BY l.tenant_id, l.home_region
                FOR UPDATE OF l)
            UPDATE shard_owner_leases l SET expires_at = c.now
            FROM held h CROSS JOIN clock c
            WHERE l.tenant_id = h.tenant_id AND l.home_region = h.home_region
            """);
        command.Parameters.Add(Text(region));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async Task<DrEvent> AppendDrEventAsync(DrEvent drEvent, CancellationToken cancellationToken)
    {
        DrEventRules.Validate(drEvent);
        await using var command = _dataSource.CreateCommand("""
            INSERT INTO dr_events (tenant_id, home_region, operation, step, outcome, detail, operator, data, elapsed_ms)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            RETURNING id, at
            """);
        command.Parameters.Add(Text(drEvent.Shard.TenantId));
        command.Parameters.Add(Text(drEvent.Shard.HomeRegion));
        command.Parameters.Add(Text(drEvent.Operation));
        command.Parameters.Add(Text(drEvent.Step));
        command.Parameters.Add(Text(drEvent.Outcome));
        command.Parameters.Add(Text(drEvent.Detail));
        command.Parameters.Add(Text(drEvent.Operator));
        command.Parameters.Add(new NpgsqlParameter<string?> { TypedValue = drEvent.DataJson, NpgsqlDbType = NpgsqlDbType.Jsonb });
        command.Parameters.Add(new NpgsqlParameter<double?> { TypedValue = drEvent.ElapsedMs, NpgsqlDbType = NpgsqlDbType.Double });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return drEvent with { Id = reader.GetInt64(0), At = reader.GetFieldValue<DateTimeOffset>(1) };
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<DrEvent>> ListDrEventsAsync(ShardKey? shard, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        await using var command = _dataSource.CreateCommand($"""
            SELECT {DrEventColumns} FROM (
                SELECT * FROM dr_events WHERE $1::text IS NULL OR (tenant_id = $1 AND home_region = $2)
                ORDER BY id DESC LIMIT $3) newest
            ORDER BY id
            """);
        command.Parameters.Add(Text(shard?.TenantId));
        command.Parameters.Add(Text(shard?.HomeRegion));
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
        var events = new List<DrEvent>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            events.Add(new DrEvent(
                reader.GetInt64(0), reader.GetFieldValue<DateTimeOffset>(1), new ShardKey(reader.GetString(2), reader.GetString(3)),
                reader.GetString(4), reader.GetString(5), reader.GetString(6), reader.GetString(7),
                reader.IsDBNull(8) ? null : reader.GetString(8), reader.IsDBNull(9) ? null : reader.GetString(9),
                reader.IsDBNull(10) ? null : reader.GetDouble(10)));
        }

        return events;
    }

    /// <inheritdoc />
    public async Task UpsertRegionAsync(Region region, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(region);
        await using var command = _dataSource.CreateCommand("""
            INSERT INTO regions (id, display_name, api_url, radius_host, radius_auth_port, radius_acct_port)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (id) DO UPDATE SET display_name = EXCLUDED.display_name, api_url = EXCLUDED.api_url,
                radius_host = EXCLUDED.radius_host, radius_auth_port = EXCLUDED.radius_auth_port,
                radius_acct_port = EXCLUDED.radius_acct_port, updated_at = now()
            """);
        command.Parameters.Add(Text(region.Id));
        command.Parameters.Add(Text(region.DisplayName));
        command.Parameters.Add(Text(region.ApiUrl.ToString()));
        command.Parameters.Add(Text(region.RadiusHost));
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = region.RadiusAuthPort });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = region.RadiusAcctPort });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async Task UpsertTenantAsync(Tenant tenant, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        await using var command = _dataSource.CreateCommand(
            "INSERT INTO tenants (id, display_name) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET display_name = EXCLUDED.display_name");
        command.Parameters.Add(Text(tenant.Id));
        command.Parameters.Add(Text(tenant.DisplayName));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async Task<Shard> CreateShardAsync(Shard shard, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(shard);
        await using (var insert = _dataSource.CreateCommand("""
            INSERT INTO shards (tenant_id, home_region, owner_region, standby_region, epoch, state, database_name)
            VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant_id, home_region) DO NOTHING
            """))
        {
            insert.Parameters.Add(Text(shard.Key.TenantId));
            insert.Parameters.Add(Text(shard.Key.HomeRegion));
            insert.Parameters.Add(Text(shard.OwnerRegion));
            insert.Parameters.Add(Text(shard.StandbyRegion));
            insert.Parameters.Add(new NpgsqlParameter<long> { TypedValue = shard.Epoch });
            insert.Parameters.Add(Text(ShardStates.ToText(shard.State)));
            insert.Parameters.Add(Text(shard.DatabaseName));
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        return await GetShardAsync(shard.Key, cancellationToken) ?? throw new InvalidOperationException($"shard {shard.Key} vanished after its insert");
    }

    /// <inheritdoc />
    public async Task<ShardUpdateResult> TrySetShardStateAsync(ShardKey key, ShardState expected, ShardState state, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand($"""
            UPDATE shards SET state = $4, updated_at = now() WHERE tenant_id = $1 AND home_region = $2 AND state = $3
            RETURNING {ShardColumns}
            """);
        command.Parameters.Add(Text(key.TenantId));
        command.Parameters.Add(Text(key.HomeRegion));
        command.Parameters.Add(Text(ShardStates.ToText(expected)));
        command.Parameters.Add(Text(ShardStates.ToText(state)));
        return await SingleShardOrCurrentAsync(command, key, ShardUpdateOutcome.StateMismatch, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<bool> DeleteShardAsync(ShardKey key, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // The row lock first: it waits for placement inserts in flight (their foreign key check holds a lock on
        // the shard row) and keeps new ones and state changes out, so the deletes that follow see every placement.
        await using var batch = new NpgsqlBatch(connection, transaction)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand("SELECT 1 FROM shards WHERE tenant_id = $1 AND home_region = $2 AND state IN ('provisioning', 'retiring') FOR UPDATE")
                    { Parameters = { Text(key.TenantId), Text(key.HomeRegion) } },
                new NpgsqlBatchCommand("""
                    DELETE FROM subscriber_placements p USING shards s
                    WHERE p.tenant_id = $1 AND p.home_region = $2 AND s.tenant_id = p.tenant_id AND s.home_region = p.home_region
                      AND s.state IN ('provisioning', 'retiring')
                    """) { Parameters = { Text(key.TenantId), Text(key.HomeRegion) } },
                new NpgsqlBatchCommand("DELETE FROM shards WHERE tenant_id = $1 AND home_region = $2 AND state IN ('provisioning', 'retiring')")
                    { Parameters = { Text(key.TenantId), Text(key.HomeRegion) } },
            },
        };
        await batch.ExecuteNonQueryAsync(cancellationToken);
        var deleted = batch.BatchCommands[2].RecordsAffected == 1;
        await transaction.CommitAsync(cancellationToken);
        return deleted;
    }

    /// <inheritdoc />
    public async Task<bool> DeleteTenantAsync(string tenantId, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // The row lock first: it waits for shard inserts in flight (their foreign key check holds a lock on the
        // tenant row) and keeps new ones out, so the checks that follow see every shard.
        await using var batch = new NpgsqlBatch(connection, transaction)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand("SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE") { Parameters = { Text(tenantId) } },
                new NpgsqlBatchCommand("DELETE FROM nas_devices WHERE tenant_id = $1 AND NOT EXISTS (SELECT 1 FROM shards WHERE tenant_id = $1)")
                    { Parameters = { Text(tenantId) } },
                new NpgsqlBatchCommand("DELETE FROM tenants WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM shards WHERE tenant_id = $1)")
                    { Parameters = { Text(tenantId) } },
            },
        };
        await batch.ExecuteNonQueryAsync(cancellationToken);
        var deleted = batch.BatchCommands[2].RecordsAffected == 1;
        await transaction.CommitAsync(cancellationToken);
        return deleted;
    }

    /// <inheritdoc />
    public async Task<bool> SetTenantApiKeyHashAsync(string tenantId, byte[] sha256, bool onlyIfUnset, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sha256);
        await using var command = _dataSource.CreateCommand(
            "UPDATE tenants SET api_key_hash = $2 WHERE id = $1 AND (NOT $3 OR api_key_hash IS NULL)");
        command.Parameters.Add(Text(tenantId));
        command.Parameters.Add(new NpgsqlParameter<byte[]> { TypedValue = sha256 });
        command.Parameters.Add(new NpgsqlParameter<bool> { TypedValue = onlyIfUnset });
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <inheritdoc />
    public async Task UpsertNasAsync(NasDevice nas, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(nas);
        await using var command = _dataSource.CreateCommand("""
            INSERT INTO nas_devices (tenant_id, id, address, primary_region, backup_region) VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (tenant_id, id) DO UPDATE SET address = EXCLUDED.address, primary_region = EXCLUDED.primary_region,
                backup_region = EXCLUDED.backup_region, updated_at = now()
            """);
        command.Parameters.Add(Text(nas.TenantId));
        command.Parameters.Add(Text(nas.Id));
        command.Parameters.Add(new NpgsqlParameter<IPAddress> { TypedValue = nas.Address, NpgsqlDbType = NpgsqlDbType.Inet });
        command.Parameters.Add(Text(nas.PrimaryRegion));
        command.Parameters.Add(Text(nas.BackupRegion));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async Task<bool> DeleteNasAsync(string tenantId, string nasId, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand("DELETE FROM nas_devices WHERE tenant_id = $1 AND id = $2");
        command.Parameters.Add(Text(tenantId));
        command.Parameters.Add(Text(nasId));
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <inheritdoc />
    public async Task<PlacementWrite> TryAddPlacementAsync(string tenantId, string username, string homeRegion, CancellationToken cancellationToken)
    {
        // Two attempts: when a concurrent insert of the same username commits while ours waits, ON CONFLICT does
        // nothing and the statement's snapshot cannot see the winner's row yet; a second statement can.
        for (var attempt = 0; attempt < 2; attempt++)
        {
            await using var command = _dataSource.CreateCommand("""
                WITH inserted AS (
                    INSERT INTO subscriber_placements (tenant_id, username, home_region) VALUES ($1, $2, $3)
                    ON CONFLICT (tenant_id, username) DO NOTHING
                    RETURNING tenant_id, username, home_region, created_at)
                SELECT tenant_id, username, home_region, created_at, true FROM inserted
                UNION ALL
                SELECT tenant_id, username, home_region, created_at, false FROM subscriber_placements
                WHERE tenant_id = $1 AND username = $2 AND NOT EXISTS (SELECT 1 FROM inserted)
                """);
            command.Parameters.Add(Text(tenantId));
            command.Parameters.Add(Text(username));
            command.Parameters.Add(Text(homeRegion));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken))
            {
                return new PlacementWrite(ReadPlacement(reader), reader.GetBoolean(4));
            }
        }

        throw new InvalidOperationException($"placement of '{username}' in tenant {tenantId} neither inserted nor found");
    }

    /// <inheritdoc />
    public async Task<bool> DeletePlacementAsync(string tenantId, string username, DateTimeOffset? createdAt, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(
            "DELETE FROM subscriber_placements WHERE tenant_id = $1 AND username = $2 AND ($3::timestamptz IS NULL OR created_at = $3)");
        command.Parameters.Add(Text(tenantId));
        command.Parameters.Add(Text(username));
        command.Parameters.Add(new NpgsqlParameter<DateTime?> { TypedValue = createdAt?.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        return await command.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<SubscriberPlacement>> ListPlacementsCreatedBetweenAsync(
        DateTimeOffset createdFrom, DateTimeOffset createdBefore, SubscriberPlacement? after, int limit, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand("""
            SELECT tenant_id, username, home_region, created_at FROM subscriber_placements
            WHERE created_at >= $1 AND created_at < $2 AND (created_at, tenant_id, username) > ($3, $4, $5)
            ORDER BY created_at, tenant_id, username
            LIMIT $6
            """);
        command.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = createdFrom.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = createdBefore.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = (after?.CreatedAt ?? createdFrom.AddTicks(-10)).UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(Text(after?.TenantId ?? ""));
        command.Parameters.Add(Text(after?.Username ?? ""));
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
        var placements = new List<SubscriberPlacement>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            placements.Add(ReadPlacement(reader));
        }

        return placements;
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    /// <summary>Reads rows of (directory now, lease columns or nulls): the clock from the first, a lease from each non-null one.</summary>
    private static async Task<(DateTimeOffset Now, List<OwnerLease> Leases)> ReadOwnerLeasesAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        DateTimeOffset? now = null;
        var leases = new List<OwnerLease>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            now ??= reader.GetFieldValue<DateTimeOffset>(0);
            if (!reader.IsDBNull(1))
            {
                leases.Add(new OwnerLease(
                    new ShardKey(reader.GetString(1), reader.GetString(2)), reader.GetString(3), reader.GetInt64(4),
                    reader.GetFieldValue<DateTimeOffset>(5), reader.GetFieldValue<DateTimeOffset>(6)));
            }
        }

        return (now ?? throw new InvalidOperationException("the directory's clock was not read"), leases);
    }

    private async Task<Shard?> GetShardAsync(ShardKey key, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand($"SELECT {ShardColumns} FROM shards WHERE tenant_id = $1 AND home_region = $2");
        command.Parameters.Add(Text(key.TenantId));
        command.Parameters.Add(Text(key.HomeRegion));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadShard(reader) : null;
    }

    private async Task<ShardUpdateResult> SingleShardOrCurrentAsync(NpgsqlCommand command, ShardKey key, ShardUpdateOutcome refused, CancellationToken cancellationToken)
    {
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            if (await reader.ReadAsync(cancellationToken))
            {
                return new ShardUpdateResult(ShardUpdateOutcome.Updated, ReadShard(reader));
            }
        }

        var current = await GetShardAsync(key, cancellationToken);
        return new ShardUpdateResult(current is null ? ShardUpdateOutcome.NotFound : refused, current);
    }

    private static Region ReadRegion(NpgsqlDataReader reader)
    {
        var id = reader.GetString(0);
        var apiUrl = reader.GetString(2);
        if (!Uri.TryCreate(apiUrl, UriKind.Absolute, out var uri))
        {
            throw new InvalidDataException($"region {id}: api_url '{apiUrl}' is not an absolute URL");
        }

        return new Region(id, reader.GetString(1), uri, reader.GetString(3), reader.GetInt32(4), reader.GetInt32(5));
    }

    private static Shard ReadShard(NpgsqlDataReader reader) => new(
        new ShardKey(reader.GetString(0), reader.GetString(1)),
        reader.GetString(2),
        reader.IsDBNull(3) ? null : reader.GetString(3),
        reader.GetInt64(4),
        ShardStates.Parse(reader.GetString(5)),
        reader.IsDBNull(6) || reader.IsDBNull(7) ? null : new ShardLease(reader.GetString(6), new DateTimeOffset(reader.GetFieldValue<DateTime>(7), TimeSpan.Zero)),
        reader.GetString(8));

    private static SubscriberPlacement ReadPlacement(NpgsqlDataReader reader) =>
        new(reader.GetString(0), reader.GetString(1), reader.GetString(2), new DateTimeOffset(reader.GetFieldValue<DateTime>(3), TimeSpan.Zero));

    private static NpgsqlParameter<string?> Text(string? value) => new() { TypedValue = value, NpgsqlDbType = NpgsqlDbType.Text };
}
