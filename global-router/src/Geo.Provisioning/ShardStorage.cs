using Dapper;
using Geo.Replication.Applying;
using Geo.Replication.PgOutput;
using Geo.Schema;
using Geo.Schema.Migrations;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Geo.Provisioning;

/// <summary>The database side of a shard's lifecycle: each operation is idempotent (done already = nothing to do).</summary>
internal sealed class ShardStorage(PlatformDatabases databases, TimeProvider time)
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(200);

    public PlatformDatabases Databases => databases;

    /// <summary>Creates the database on a region's server unless it exists; true when this call created it.</summary>
    public async Task<bool> EnsureDatabaseAsync(string region, string database, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(databases.Maintenance(region));
        await connection.OpenAsync(cancellationToken);
        return await ShardDatabase.CreateIfMissingAsync(connection, database, cancellationToken);
    }

    public async Task<bool> DatabaseExistsAsync(string region, string database, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(databases.Maintenance(region));
        await connection.OpenAsync(cancellationToken);
        return await ShardDatabase.ExistsAsync(connection, database, cancellationToken);
    }

    /// <summary>
    /// The shard's replica in its standby region, as the administrator prepares it: created read-only and migrated (the
    /// replicator's own role may do neither); a replica there already is only checked, and a promoted one refused.
    /// </summary>
    public static Task PrepareReplicaAsync(PlatformDatabases databases, string standby, string database, CancellationToken cancellationToken) =>
        ReplicaGuard.PrepareAsync(databases.Database(standby, database), applyTenantMigrations: true, NullLogger.Instance, cancellationToken);

    /// <summary>Applies the tenant migrations and writes the fence at epoch 1 (owner = home) unless it has one.</summary>
    public async Task<MigrationReport> MigrateAndFenceAsync(string region, string database, string tenantId, string home, CancellationToken cancellationToken)
    {
        var connectionString = databases.Database(region, database);
        var report = await new MigrationRunner().ApplyAsync(connectionString, MigrationSet.Tenant, cancellationToken);
        await ShardFence.EnsureAsync(connectionString, tenantId, home, cancellationToken);
        return report;
    }

    /// <summary>
    /// Waits until the standby region's replicator streams the shard: its slot on the source is held by a
    /// walsender and the replica has stored a position. Returns the slot name.
    /// </summary>
    public async Task<string> WaitForReplicationAsync(string owner, string standby, string database, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var slot = ReplicationSlots.DefaultSlotName(database, standby);
        var deadline = time.GetUtcNow() + timeout;
        string last = "the replicator has not created its slot yet";
        while (true)
        {
            try
            {
                var active = await SlotActiveAsync(owner, database, slot, cancellationToken);
                if (active is null)
                {
                    last = $"no slot {slot} on the source yet";
                }
                else if (active == false)
                {
                    last = $"slot {slot} exists but no replicator holds it";
                }
                else if (!await ReplicaHasPositionAsync(standby, database, slot, cancellationToken))
                {
                    last = $"replica {database} in {standby} has not stored a position yet (initial copy running?)";
                }
                else
                {
                    return slot;
                }
            }
            catch (NpgsqlException ex)
            {
                last = ex.Message;
            }

            if (time.GetUtcNow() >= deadline)
            {
                throw new ProvisioningException(
                    $"replication of {database} to region {standby} did not start within {timeout.TotalSeconds:F0} s ({last}). " +
                    $"Is geo-replicator running in region {standby} with directory discovery? Run the command again to resume.");
            }

            await Task.Delay(PollInterval, time, cancellationToken);
        }
    }

    /// <summary>True/false when the slot exists (held by a walsender or not), null when it does not.</summary>
    private async Task<bool?> SlotActiveAsync(string region, string database, string slot, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(databases.Maintenance(region));
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT active FROM pg_replication_slots WHERE slot_name = $1 AND database = $2", connection);
        command.Parameters.Add(new() { Value = slot });
        command.Parameters.Add(new() { Value = database });
        return await command.ExecuteScalarAsync(cancellationToken) as bool?;
    }

    private async Task<bool> ReplicaHasPositionAsync(string region, string database, string slot, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(databases.Database(region, database));
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = 'public' AND tablename = 'replication_progress') AND EXISTS (SELECT 1 FROM replication_progress WHERE source = $1)",
            connection);
        command.Parameters.Add(new() { Value = $"pgoutput:{slot}" });
        try
        {
            return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            return false;
        }
    }

    /// <summary>Waits (bounded) until no walsender holds a logical slot of the database; false when one still does.</summary>
    public async Task<bool> WaitForSlotsReleasedAsync(string region, string database, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = time.GetUtcNow() + timeout;
        while (true)
        {
            await using (var connection = new NpgsqlConnection(databases.Maintenance(region)))
            {
                await connection.OpenAsync(cancellationToken);
                await using var command = new NpgsqlCommand("SELECT count(*) FROM pg_replication_slots WHERE database = $1 AND active", connection);
                command.Parameters.Add(new() { Value = database });
                if ((long)(await command.ExecuteScalarAsync(cancellationToken))! == 0)
                {
                    return true;
                }
            }

            if (time.GetUtcNow() >= deadline)
            {
                return false;
            }

            await Task.Delay(PollInterval, time, cancellationToken);
        }
    }

    /// <summary>
    /// Drops a shard's source database with every replication slot and the publication in it. A logical slot
    /// blocks DROP DATABASE, and a replicator that has not yet noticed the retirement may create its slot again,
    /// so slots are dropped until the database is gone. Returns the slots dropped.
    /// </summary>
    public async Task<IReadOnlyList<string>> DropSourceAsync(string region, string database, CancellationToken cancellationToken)
    {
        var dropped = new List<string>();
        for (var attempt = 1; ; attempt++)
        {
            foreach (var slot in await SlotsOfAsync(region, database, cancellationToken))
            {
                // A logical slot is dropped from a session in its own database.
                await ReplicationSlots.DropAsync(databases.Database(region, database), slot, ReplicationSlots.DefaultPublication, cancellationToken);
                dropped.Add(slot);
            }

            try
            {
                await DropDatabaseAsync(region, database, cancellationToken);
                return dropped;
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.ObjectInUse && attempt < 20)
            {
                // A slot was created in between (see above): drop it and try again.
            }
        }
    }

    /// <summary>The logical replication slots in a database.</summary>
    public async Task<IReadOnlyList<string>> SlotsOfAsync(string region, string database, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(databases.Maintenance(region));
        await connection.OpenAsync(cancellationToken);
        var slots = await connection.QueryAsync<string>(new CommandDefinition(
            "SELECT slot_name::text FROM pg_replication_slots WHERE database = @database ORDER BY 1", new { database }, cancellationToken: cancellationToken));
        return slots.AsList();
    }

    /// <summary>Drops a database (its sessions are ended); false when there was none.</summary>
    public async Task<bool> DropDatabaseAsync(string region, string database, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(databases.Maintenance(region));
        await connection.OpenAsync(cancellationToken);
        if (!await ShardDatabase.ExistsAsync(connection, database, cancellationToken))
        {
            return false;
        }

        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {ShardDatabase.Quote(database)} WITH (FORCE)", connection);
        await drop.ExecuteNonQueryAsync(cancellationToken);
        return true;
    }

    /// <summary>Subscribers in a shard database; null when the database does not exist or is not migrated.</summary>
    public async Task<long?> CountSubscribersAsync(string region, string database, CancellationToken cancellationToken)
    {
        if (!await DatabaseExistsAsync(region, database, cancellationToken))
        {
            return null;
        }

        await using var connection = new NpgsqlConnection(databases.Database(region, database));
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT count(*) FROM subscribers", connection);
        try
        {
            return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            return null;
        }
    }
}
