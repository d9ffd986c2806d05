using Geo.Engines;
using Geo.Schema.Migrations;
using Geo.Testing;
using Npgsql;

namespace Geo.Schema.IntegrationTests;

[Collection(TwoRegionsGroup.Name)]
public sealed class ShardMigratorTests(TwoRegionServers servers)
{
    private static readonly string[] AllTenantFiles = [.. MigrationSet.Tenant.Migrations.Select(m => m.FileName)];
    private static readonly int[] AllTenantVersions = [.. MigrationSet.Tenant.Migrations.Select(m => m.Version)];

    [Fact]
    public async Task MigrateAll_FreshShardsAndReplicas_AppliesEverythingReplicaBeforeSource()
    {
        var platform = await servers.NewPlatformAsync();
        var homedInA = await platform.AddShardAsync("s1", owner: "a", standby: "b");
        var homedInB = await platform.AddShardAsync("s2", owner: "b", standby: "a");
        var trace = new List<ShardMigrationResult>();

        var summary = await new ShardMigrator(platform.Databases()).MigrateAllAsync(trace.Add);

        Assert.Equal(
        [
            (homedInA.DatabaseName, ShardDatabaseRole.Replica, "b"), (homedInA.DatabaseName, ShardDatabaseRole.Source, "a"),
            (homedInB.DatabaseName, ShardDatabaseRole.Replica, "a"), (homedInB.DatabaseName, ShardDatabaseRole.Source, "b"),
        ], trace.Select(r => (r.Database, r.Role, r.Region!)));
        Assert.Equal(summary.Results, trace);
        Assert.All(trace, r => Assert.Equal(ShardMigrationOutcome.Migrated, r.Outcome));
        Assert.All(trace, r => Assert.Equal(AllTenantFiles, r.Applied));
        Assert.Equal((4, 0, 0), (summary.Succeeded, summary.Failed, summary.Skipped));
        foreach (var (shard, source, replica) in new[] { (homedInA, "a", "b"), (homedInB, "b", "a") })
        {
            Assert.Equal(AllTenantVersions, await platform.AppliedVersionsAsync(source, shard.DatabaseName));
            Assert.Equal(AllTenantVersions, await platform.AppliedVersionsAsync(replica, shard.DatabaseName));
            // The databases' own record of when each migration committed: the replica's last before the source's first.
            var replicaDone = await Sql.ScalarAsync<DateTime>(platform.Database(replica, shard.DatabaseName), "SELECT max(applied_at) FROM geo_schema_migrations");
            var sourceStarted = await Sql.ScalarAsync<DateTime>(platform.Database(source, shard.DatabaseName), "SELECT min(applied_at) FROM geo_schema_migrations");
            Assert.True(replicaDone < sourceStarted, $"{shard.DatabaseName}: replica migrated until {replicaDone:O}, source from {sourceStarted:O}");
        }
    }

    [Fact]
    public async Task ReadDirectory_Directory_SchemaVersionAndShards()
    {
        var platform = await servers.NewPlatformAsync();
        var shard = await platform.AddShardAsync("s", owner: "a", standby: null);

        var directory = await new ShardMigrator(platform.Databases()).ReadDirectoryAsync();

        Assert.Equal(MigrationSet.Directory.LatestVersion, directory.SchemaVersion);
        Assert.Equal([shard], directory.Shards);
    }

    [Fact]
    public async Task ReadDirectory_DatabaseWithoutShardsTable_RefusedClearly()
    {
        var notDirectory = await servers.A.CreateDatabaseAsync("empty");

        var error = await Assert.ThrowsAsync<MigrationException>(() =>
            new ShardMigrator(new PlatformDatabases(notDirectory, new Dictionary<string, string>())).ReadDirectoryAsync());

        Assert.Contains("has no shards table", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MigrateAll_ReadOnlyReplica_MigratedAndStaysReadOnly()
    {
        var platform = await servers.NewPlatformAsync();
        var shard = await platform.AddShardAsync("s", owner: "a", standby: "b");
        var replica = platform.Database("b", shard.DatabaseName);
        await using (var connection = new NpgsqlConnection(replica))
        {
            await connection.OpenAsync();
            await using var guard = new NpgsqlCommand($"ALTER DATABASE {ShardDatabase.Quote(shard.DatabaseName)} SET default_transaction_read_only = on", connection);
            await guard.ExecuteNonQueryAsync();
        }

        var summary = await new ShardMigrator(platform.Databases()).MigrateAllAsync();

        Assert.Equal([ShardMigrationOutcome.Migrated, ShardMigrationOutcome.Migrated], summary.Results.Select(r => r.Outcome));
        Assert.Equal(AllTenantVersions, await platform.AppliedVersionsAsync("b", shard.DatabaseName));
        // Unpooled: a pooled session opened before the ALTER DATABASE would not be read-only.
        await using var plain = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(replica) { Pooling = false }.ConnectionString);
        await plain.OpenAsync();
        await using var write = new NpgsqlCommand("INSERT INTO plans (id, display_name) VALUES ('basic', 'Basic')", plain);
        var refused = await Assert.ThrowsAsync<PostgresException>(() => write.ExecuteNonQueryAsync());
        Assert.Equal(PostgresErrorCodes.ReadOnlySqlTransaction, refused.SqlState);
    }

    [Fact]
    public async Task MigrateAll_SecondRun_AppliesNothing()
    {
        var platform = await servers.NewPlatformAsync();
        var shard = await platform.AddShardAsync("s", owner: "a", standby: "b");
        var migrator = new ShardMigrator(platform.Databases());
        await migrator.MigrateAllAsync();

        var second = await migrator.MigrateAllAsync();

        Assert.Equal([ShardMigrationOutcome.UpToDate, ShardMigrationOutcome.UpToDate], second.Results.Select(r => r.Outcome));
        Assert.All(second.Results, r => Assert.Empty(r.Applied));
        Assert.Equal((2, 0, 0), (second.Succeeded, second.Failed, second.Skipped));
        Assert.Equal(AllTenantVersions.Length, (await Sql.QueryAsync<long>(platform.Database("a", shard.DatabaseName), "SELECT count(*) FROM geo_schema_migrations")).Single());
    }

    [Fact]
    public async Task MigrateAll_ReplicaMigrationFails_SourceSkippedAndOtherShardMigrated()
    {
        var platform = await servers.NewPlatformAsync();
        var broken = await platform.AddShardAsync("s1", owner: "a", standby: "b");
        var healthy = await platform.AddShardAsync("s2", owner: "a", standby: "b");
        // A table the first tenant migration creates already exists on the replica: 0001 fails there.
        await Sql.ScalarAsync<object>(platform.Database("b", broken.DatabaseName), "CREATE TABLE plans (id int PRIMARY KEY)");

        var summary = await new ShardMigrator(platform.Databases()).MigrateAllAsync();

        var replica = summary.Results[0];
        Assert.Equal((broken.DatabaseName, ShardDatabaseRole.Replica, ShardMigrationOutcome.Failed), (replica.Database, replica.Role, replica.Outcome));
        Assert.Contains(AllTenantFiles[0], replica.Reason, StringComparison.Ordinal);
        Assert.Contains("\"plans\" already exists", replica.Reason, StringComparison.Ordinal);
        var source = summary.Results[1];
        Assert.Equal((broken.DatabaseName, ShardDatabaseRole.Source, ShardMigrationOutcome.Skipped), (source.Database, source.Role, source.Outcome));
        Assert.Contains("replica in b failed", source.Reason, StringComparison.Ordinal);
        Assert.Empty(await platform.AppliedVersionsAsync("a", broken.DatabaseName));
        Assert.All(summary.Results.Skip(2), r => Assert.Equal((healthy.DatabaseName, ShardMigrationOutcome.Migrated), (r.Database, r.Outcome)));
        Assert.Equal(AllTenantVersions, await platform.AppliedVersionsAsync("a", healthy.DatabaseName));
        Assert.Equal((2, 1, 1), (summary.Succeeded, summary.Failed, summary.Skipped));
    }

    [Fact]
    public async Task MigrateAll_ReplicaServerUnreachable_SourceSkipped()
    {
        var platform = await servers.NewPlatformAsync();
        var shard = await platform.AddShardAsync("s", owner: "a", standby: "b");
        var nothingListens = $"Host=127.0.0.1;Port={LoopbackPorts.FreeTcpPort()};Username=postgres";

        var summary = await new ShardMigrator(platform.Databases(new Dictionary<string, string> { ["b"] = nothingListens })).MigrateAllAsync();

        Assert.Equal([ShardMigrationOutcome.Failed, ShardMigrationOutcome.Skipped], summary.Results.Select(r => r.Outcome));
        Assert.Contains("Failed to connect", summary.Results[0].Reason, StringComparison.Ordinal);
        Assert.Empty(await platform.AppliedVersionsAsync("a", shard.DatabaseName));
    }

    [Fact]
    public async Task MigrateAll_ReplicaDatabaseNotCreatedYet_CreatedReadOnlyAndMigrated_ThenLeftAsItIs()
    {
        var platform = await servers.NewPlatformAsync();
        var shard = await platform.AddShardAsync("s", owner: "a", standby: "b", createReplica: false);

        var summary = await new ShardMigrator(platform.Databases()).MigrateAllAsync();

        Assert.Equal((ShardDatabaseRole.Replica, ShardMigrationOutcome.Migrated), (summary.Results[0].Role, summary.Results[0].Outcome));
        Assert.Contains("created", summary.Results[0].Reason, StringComparison.Ordinal);
        Assert.Equal((ShardDatabaseRole.Source, ShardMigrationOutcome.Migrated), (summary.Results[1].Role, summary.Results[1].Outcome));
        Assert.Equal(AllTenantVersions, await platform.AppliedVersionsAsync("a", shard.DatabaseName));
        Assert.Equal(AllTenantVersions, await platform.AppliedVersionsAsync("b", shard.DatabaseName));
        // Read-only for every session that does not turn it off (the replicator's applier, migrations).
        var replica = platform.Databases().Database("b", shard.DatabaseName);
        await using (var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(replica) { Pooling = false }.ConnectionString))
        {
            await connection.OpenAsync();
            Assert.True(await ReplicaDatabase.IsGuardedAsync(connection, shard.DatabaseName));
            await using var write = new NpgsqlCommand("CREATE TABLE rogue (id int)", connection);
            Assert.Equal(PostgresErrorCodes.ReadOnlySqlTransaction, (await Assert.ThrowsAsync<PostgresException>(() => write.ExecuteNonQueryAsync())).SqlState);
        }

        var again = await new ShardMigrator(platform.Databases()).MigrateAllAsync();
        Assert.Equal([ShardMigrationOutcome.UpToDate, ShardMigrationOutcome.UpToDate], again.Results.Select(r => r.Outcome));
    }

    [Fact]
    public async Task MigrateAll_ShardWithoutStandby_SourceMigrated()
    {
        var platform = await servers.NewPlatformAsync();
        var shard = await platform.AddShardAsync("s", owner: "b", standby: null);

        var summary = await new ShardMigrator(platform.Databases()).MigrateAllAsync();

        Assert.Equal((null, ShardMigrationOutcome.Skipped), (summary.Results[0].Region, summary.Results[0].Outcome));
        Assert.Equal(ShardMigrationOutcome.Migrated, summary.Results[1].Outcome);
        Assert.Equal(AllTenantVersions, await platform.AppliedVersionsAsync("b", shard.DatabaseName));
    }

    [Fact]
    public async Task MigrateAll_RegionWithoutServer_ReportedFailed_SourceWaitsForItsReplica()
    {
        var platform = await servers.NewPlatformAsync();
        var standbyInC = await platform.AddShardAsync("s1", owner: "a", standby: "c", createReplica: false);
        var ownedByC = await platform.AddShardAsync("s2", owner: "c", standby: "b", createSource: false);

        var summary = await new ShardMigrator(platform.Databases()).MigrateAllAsync();

        Assert.Equal(
        [
            (standbyInC.DatabaseName, ShardDatabaseRole.Replica, ShardMigrationOutcome.Failed), (standbyInC.DatabaseName, ShardDatabaseRole.Source, ShardMigrationOutcome.Skipped),
            (ownedByC.DatabaseName, ShardDatabaseRole.Replica, ShardMigrationOutcome.Migrated), (ownedByC.DatabaseName, ShardDatabaseRole.Source, ShardMigrationOutcome.Failed),
        ], summary.Results.Select(r => (r.Database, r.Role, r.Outcome)));
        Assert.Contains("no PostgreSQL server is configured for region 'c'", summary.Results[0].Reason, StringComparison.Ordinal);
        Assert.Contains("no PostgreSQL server is configured for region 'c'", summary.Results[3].Reason, StringComparison.Ordinal);
        Assert.Empty(await platform.AppliedVersionsAsync("a", standbyInC.DatabaseName));
    }

    [Fact]
    public async Task MigrateAll_SourceDatabaseMissing_ReportedFailed()
    {
        var platform = await servers.NewPlatformAsync();
        var shard = await platform.AddShardAsync("s", owner: "a", standby: "b", createSource: false);

        var summary = await new ShardMigrator(platform.Databases()).MigrateAllAsync();

        var source = summary.Results[1];
        Assert.Equal((ShardDatabaseRole.Source, ShardMigrationOutcome.Failed), (source.Role, source.Outcome));
        Assert.Equal($"database {shard.DatabaseName} does not exist on the server of region 'a'", source.Reason);
        Assert.Equal(1, summary.Failed);
    }
}
