using System.Data;
using System.Net;
using Geo.Directory.Nas;
using Geo.Directory.Placement;
using Geo.Directory.Regions;
using Geo.Directory.Shards;
using Geo.Directory.Tenants;
using Npgsql;
using NpgsqlTypes;

namespace Geo.Directory.Stores.Postgres;

/// <summary>
/// The directory in PostgreSQL (the embedded default, schema in <c>schema/migrations/directory</c>). Compare-and-set is one
/// <c>UPDATE ... WHERE epoch = @expected</c>; changes arrive by LISTEN on <c>geo_directory</c> and <c>geo_placements</c>.
/// </summary>
public sealed class PostgresDirectoryStore : IDirectoryStore
{
    internal const string DirectoryChannel = "geo_directory";
    internal const string PlacementsChannel = "geo_placements";

    private const string ShardColumns =
        "tenant_id, home_region, owner_region, standby_region, epoch, state, lease_holder, lease_expires_at, database_name";

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
                epoch          = epoch + 1,
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
