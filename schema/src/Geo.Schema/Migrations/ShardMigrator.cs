using Npgsql;

namespace Geo.Schema.Migrations;

/// <summary>
/// Migrates every shard's replica (<see cref="PlatformDatabases.WritableReplica"/>) before its source: a migration publishes
/// a new table in the same transaction (0004_replication.sql), so the replica must have it first; a source whose replica
/// failed is skipped. One shard's failure does not stop the others.
/// </summary>
public sealed class ShardMigrator
{
    private readonly PlatformDatabases _databases;
    private readonly MigrationSet _set;
    private readonly MigrationRunner _runner;

    /// <summary>Creates a migrator of the shards listed in the directory of <paramref name="databases"/>.</summary>
    public ShardMigrator(PlatformDatabases databases, MigrationRunner? runner = null)
        : this(databases, MigrationSet.Tenant, runner)
    {
    }

    /// <summary>Tests give a set of their own.</summary>
    internal ShardMigrator(PlatformDatabases databases, MigrationSet set, MigrationRunner? runner = null)
    {
        ArgumentNullException.ThrowIfNull(databases);
        ArgumentNullException.ThrowIfNull(set);
        _databases = databases;
        _set = set;
        _runner = runner ?? new MigrationRunner();
    }

    /// <summary>Reads the directory's schema version and every shard; refuses a database without a <c>shards</c> table.</summary>
    /// <exception cref="MigrationException">The directory database cannot be read or has no <c>shards</c> table.</exception>
    public async Task<ShardDirectory> ReadDirectoryAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return await ReadShardsAsync(cancellationToken);
        }
        catch (NpgsqlException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new MigrationException($"cannot read the directory database: {Describe(ex)}", ex);
        }
    }

    /// <summary>Reads the directory, then migrates every shard it lists; see <see cref="MigrateAsync"/>.</summary>
    public async Task<ShardMigrationSummary> MigrateAllAsync(Action<ShardMigrationResult>? progress = null, CancellationToken cancellationToken = default)
    {
        var directory = await ReadDirectoryAsync(cancellationToken);
        return await MigrateAsync(directory.Shards, progress, cancellationToken);
    }

    /// <summary>
    /// Migrates each shard's replica, then its source. <paramref name="progress"/> is called with each database's
    /// result as soon as it is known, before the next database starts. Errors of a database are reported, not
    /// thrown; only cancellation ends the run early.
    /// </summary>
    public async Task<ShardMigrationSummary> MigrateAsync(
        IReadOnlyList<ShardLocation> shards, Action<ShardMigrationResult>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(shards);
        var results = new List<ShardMigrationResult>(shards.Count * 2);
        foreach (var shard in shards)
        {
            var replica = await MigrateReplicaAsync(shard, cancellationToken);
            Report(replica);
            var source = replica.Outcome == ShardMigrationOutcome.Failed
                ? Result(shard, ShardDatabaseRole.Source, shard.OwnerRegion, ShardMigrationOutcome.Skipped,
                    $"not migrated because its replica in {shard.StandbyRegion} failed (a new table must reach the replica first)")
                : await MigrateDatabaseAsync(shard, ShardDatabaseRole.Source, shard.OwnerRegion, cancellationToken);
            Report(source);
        }

        return new ShardMigrationSummary(results);

        void Report(ShardMigrationResult result)
        {
            results.Add(result);
            progress?.Invoke(result);
        }
    }

    private async Task<ShardDirectory> ReadShardsAsync(CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(_databases.DirectoryConnectionString);
        await connection.OpenAsync(cancellationToken);
        bool hasShards, hasHistory;
        await using (var probe = new NpgsqlCommand(
            "SELECT to_regclass('public.shards') IS NOT NULL, to_regclass('public.geo_schema_migrations') IS NOT NULL", connection))
        await using (var reader = await probe.ExecuteReaderAsync(cancellationToken))
        {
            await reader.ReadAsync(cancellationToken);
            hasShards = reader.GetBoolean(0);
            hasHistory = reader.GetBoolean(1);
        }

        if (!hasShards)
        {
            throw new MigrationException(
                $"database '{connection.Database}' has no shards table: it is not the directory database, " +
                "or the directory migrations were not applied to it (geo-migrate directory)");
        }

        var version = 0;
        if (hasHistory)
        {
            await using var read = new NpgsqlCommand("SELECT coalesce(max(version), 0) FROM geo_schema_migrations WHERE set_name = @set", connection);
            read.Parameters.AddWithValue("set", MigrationSet.Directory.Name);
            version = (int)(await read.ExecuteScalarAsync(cancellationToken))!;
        }

        var shards = new List<ShardLocation>();
        await using (var list = new NpgsqlCommand(
            "SELECT tenant_id, home_region, owner_region, standby_region, state, database_name FROM shards ORDER BY tenant_id, home_region", connection))
        await using (var reader = await list.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                shards.Add(new ShardLocation(
                    reader.GetString(0), reader.GetString(1), reader.GetString(2),
                    reader.IsDBNull(3) ? null : reader.GetString(3), reader.GetString(4), reader.GetString(5)));
            }
        }

        return new ShardDirectory(connection.Database, version, shards);
    }

    private async Task<ShardMigrationResult> MigrateReplicaAsync(ShardLocation shard, CancellationToken cancellationToken)
    {
        if (shard.StandbyRegion is null)
        {
            return Result(shard, ShardDatabaseRole.Replica, null, ShardMigrationOutcome.Skipped, "the shard has no standby region");
        }

        return await MigrateDatabaseAsync(shard, ShardDatabaseRole.Replica, shard.StandbyRegion, cancellationToken);
    }

    private async Task<ShardMigrationResult> MigrateDatabaseAsync(ShardLocation shard, ShardDatabaseRole role, string region, CancellationToken cancellationToken)
    {
        if (!_databases.HasRegion(region))
        {
            return Result(shard, role, region, ShardMigrationOutcome.Failed,
                $"no PostgreSQL server is configured for region '{region}' (known: {string.Join(", ", _databases.Regions.Order(StringComparer.Ordinal))})");
        }

        var connectionString = _databases.Database(region, shard.DatabaseName);
        if (role == ShardDatabaseRole.Replica)
        {
            connectionString = PlatformDatabases.WritableReplica(connectionString);
        }

        // One connection per database, used once: pooled, hundreds of shards would hold hundreds of idle connections.
        connectionString = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString;
        try
        {
            // A replica not created yet (a standby set up by hand, one lost with its server) is created here, read-only,
            // with the whole schema: the replicator's role may not create databases, and seeds it once it is there.
            var created = role == ShardDatabaseRole.Replica && await ReplicaDatabase.CreateIfMissingAsync(connectionString, cancellationToken);
            var report = await _runner.ApplyAsync(connectionString, _set, cancellationToken);
            return report.Applied.Count == 0
                ? Result(shard, role, region, ShardMigrationOutcome.UpToDate, null)
                : new ShardMigrationResult(shard, role, region, ShardMigrationOutcome.Migrated, report.Applied.Select(m => m.FileName).ToArray(),
                    created ? "replica database created (read-only)" : null);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.InvalidCatalogName)
        {
            // A missing source is an error: the directory says the shard is there (a replica is created above).
            return Result(shard, role, region, ShardMigrationOutcome.Failed, $"database {shard.DatabaseName} does not exist on the server of region '{region}'");
        }
        catch (Exception ex) when ((ex is MigrationException or NpgsqlException) && !cancellationToken.IsCancellationRequested)
        {
            return Result(shard, role, region, ShardMigrationOutcome.Failed, Describe(ex));
        }
    }

    private static ShardMigrationResult Result(ShardLocation shard, ShardDatabaseRole role, string? region, ShardMigrationOutcome outcome, string? reason) =>
        new(shard, role, region, outcome, [], reason);

    /// <summary>The message of a database error, with the cause of a connection failure (Npgsql says only "Failed to connect to host:port").</summary>
    private static string Describe(Exception ex) =>
        ex is NpgsqlException { InnerException: { } inner } and not PostgresException ? $"{ex.Message}: {inner.Message}" : ex.Message;
}
