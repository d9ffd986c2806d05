using Geo.Migrate;
using Geo.Schema.Migrations;
using Geo.Testing;

namespace Geo.Schema.IntegrationTests;

/// <summary>geo-migrate --all-shards run in-process against the two test regions.</summary>
[Collection(TwoRegionsGroup.Name)]
public sealed class MigrateCommandTests(TwoRegionServers servers)
{
    private static readonly string AllTenantFiles = string.Join(", ", MigrationSet.Tenant.Migrations.Select(m => m.FileName));

    [Fact]
    public async Task AllShards_ServersAsOptions_LinePerDatabaseThenSummary_Exit0()
    {
        var platform = await servers.NewPlatformAsync();
        var shard = await platform.AddShardAsync("s", owner: "a", standby: "b");
        string[] args = ["--all-shards", "--directory", platform.Directory, "--server", $"a={servers.A.ConnectionString()}", "--server", $"b={servers.B.ConnectionString()}"];

        var first = await RunAsync(args);
        var second = await RunAsync(args);

        Assert.Equal((0, ""), (first.ExitCode, first.Error));
        Assert.Equal(
        [
            $"directory {Database(platform.Directory)}: schema version {MigrationSet.Directory.LatestVersion} (this build: {MigrationSet.Directory.LatestVersion}); " +
                $"1 shards, tenant schema of this build at version {MigrationSet.Tenant.LatestVersion}",
            $"{shard.DatabaseName}  replica in b  applied {AllTenantFiles}",
            $"{shard.DatabaseName}  source in a   applied {AllTenantFiles}",
            "summary: 2 databases: 2 ok, 0 failed, 0 skipped",
        ], first.Lines);
        Assert.Equal(0, second.ExitCode);
        Assert.Equal([$"{shard.DatabaseName}  replica in b  up to date", $"{shard.DatabaseName}  source in a   up to date"], second.Lines[1..3]);
    }

    [Fact]
    public async Task AllShards_FailingReplica_FailedAndSkippedLines_Exit1()
    {
        var platform = await servers.NewPlatformAsync();
        var broken = await platform.AddShardAsync("s1", owner: "a", standby: "b");
        var healthy = await platform.AddShardAsync("s2", owner: "a", standby: null);
        await Sql.ScalarAsync<object>(platform.Database("b", broken.DatabaseName), "CREATE TABLE plans (id int PRIMARY KEY)");

        var run = await RunAsync(["--all-shards", "--directory", platform.Directory, "--server", $"a={servers.A.ConnectionString()}", "--server", $"b={servers.B.ConnectionString()}"]);

        Assert.Equal(1, run.ExitCode);
        Assert.StartsWith($"{broken.DatabaseName}  replica in b  FAILED: tenant migration 0001_tenant.sql failed", run.Lines[1], StringComparison.Ordinal);
        Assert.StartsWith($"{broken.DatabaseName}  source in a   skipped: not migrated because its replica in b failed", run.Lines[2], StringComparison.Ordinal);
        Assert.Equal($"{healthy.DatabaseName}  replica       skipped: the shard has no standby region", run.Lines[3]);
        Assert.Equal($"{healthy.DatabaseName}  source in a   applied {AllTenantFiles}", run.Lines[4]);
        Assert.Equal("summary: 4 databases: 1 ok, 1 failed, 2 skipped", run.Lines[^1]);
    }

    [Fact]
    public async Task AllShards_DirectoryAndServersFileFromEnvironment_Exit0()
    {
        var platform = await servers.NewPlatformAsync();
        var shard = await platform.AddShardAsync("s", owner: "b", standby: "a");
        var serversFile = Path.GetTempFileName();
        await File.WriteAllLinesAsync(serversFile, ["# region=server", $"a={servers.A.ConnectionString()}", "", $"  b = {servers.B.ConnectionString()}"]);
        var environment = new Dictionary<string, string>
        {
            [MigrateCommand.DirectoryVariable] = platform.Directory,
            [MigrateCommand.ServersFileVariable] = serversFile,
        };

        var run = await RunAsync(["--all-shards"], environment);
        File.Delete(serversFile);

        Assert.Equal((0, ""), (run.ExitCode, run.Error));
        Assert.Equal("summary: 2 databases: 2 ok, 0 failed, 0 skipped", run.Lines[^1]);
        Assert.Equal(MigrationSet.Tenant.Migrations.Select(m => m.Version), await platform.AppliedVersionsAsync("a", shard.DatabaseName));
    }

    [Fact]
    public async Task AllShards_DirectoryWithoutShardsTable_RefusedWithExit2()
    {
        var notDirectory = await servers.A.CreateDatabaseAsync("empty");

        var run = await RunAsync(["--all-shards", "--directory", notDirectory, "--server", $"a={servers.A.ConnectionString()}"]);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("has no shards table", run.Error, StringComparison.Ordinal);
        Assert.Empty(run.Lines);
    }

    [Fact]
    public async Task AllShards_GrantRoles_CreatesTheRolesAndGrantsRowsNotSchema()
    {
        var platform = await servers.NewPlatformAsync();
        var shard = await platform.AddShardAsync("s", owner: "a", standby: "b");
        var folder = Directory.CreateTempSubdirectory("geo-roles-").FullName;
        var nodeFile = Path.Combine(folder, "node");
        var routerFile = Path.Combine(folder, "router");
        var replicatorFile = Path.Combine(folder, "replicator");
        await File.WriteAllTextAsync(nodeFile, "node-password-1\n");
        await File.WriteAllTextAsync(routerFile, "router-password-1\n");
        await File.WriteAllTextAsync(replicatorFile, "replicator-password-1\n");

        var run = await RunAsync(["--all-shards", "--directory", platform.Directory, "--server", $"a={servers.A.ConnectionString()}", "--server", $"b={servers.B.ConnectionString()}",
            "--grant-roles", "--role-password-file", $"{ServiceRoles.RegionNode}={nodeFile}", "--role-password-file", $"{ServiceRoles.Router}={routerFile}",
            "--role-password-file", $"{ServiceRoles.Replicator}={replicatorFile}"]);
        Directory.Delete(folder, recursive: true);

        Assert.Equal((0, ""), (run.ExitCode, run.Error));
        Assert.Equal($"roles: {ServiceRoles.RegionNode}, {ServiceRoles.Router}, {ServiceRoles.Replicator} granted in the directory", run.Lines[^3]);
        Assert.Equal($"roles: {ServiceRoles.RegionNode}, {ServiceRoles.Replicator} granted in region b's server (journal database {ServiceRoles.JournalDatabase})", run.Lines[^1]);
        var asNode = new Npgsql.NpgsqlConnectionStringBuilder(platform.Database("a", shard.DatabaseName)) { Username = ServiceRoles.RegionNode, Pooling = false }.ConnectionString;
        Assert.Equal(0L, await Sql.ScalarAsync<long>(asNode, "SELECT count(*) FROM subscribers"));
        var denied = await Assert.ThrowsAsync<Npgsql.PostgresException>(() => Sql.ScalarAsync<object>(asNode, "CREATE TABLE rogue (id int)"));
        Assert.Equal(Npgsql.PostgresErrorCodes.InsufficientPrivilege, denied.SqlState);
        var routerInDirectory = new Npgsql.NpgsqlConnectionStringBuilder(platform.Directory) { Username = ServiceRoles.Router, Pooling = false }.ConnectionString;
        Assert.Equal(1L, await Sql.ScalarAsync<long>(routerInDirectory, "SELECT count(*) FROM shards"));
        // The directory shares region a's server here: the node's grants in that server's shards do not reach it.
        var nodeInDirectory = new Npgsql.NpgsqlConnectionStringBuilder(platform.Directory) { Username = ServiceRoles.RegionNode, Pooling = false }.ConnectionString;
        Assert.Equal(1L, await Sql.ScalarAsync<long>(nodeInDirectory, "SELECT count(*) FROM shards"));
        var notTheNodes = await Assert.ThrowsAsync<Npgsql.PostgresException>(() => Sql.ScalarAsync<object>(nodeInDirectory, "UPDATE shards SET owner_region = home_region"));
        Assert.Equal(Npgsql.PostgresErrorCodes.InsufficientPrivilege, notTheNodes.SqlState);
        var fence = await Assert.ThrowsAsync<Npgsql.PostgresException>(() => Sql.ScalarAsync<object>(asNode, "UPDATE shard_fence SET epoch = epoch + 1"));
        Assert.Equal(Npgsql.PostgresErrorCodes.InsufficientPrivilege, fence.SqlState);
        // The replicator's role streams and copies rows (the replica's applier empties tables for a fresh copy) but makes no schema.
        var asReplicator = new Npgsql.NpgsqlConnectionStringBuilder(platform.Database("a", shard.DatabaseName)) { Username = ServiceRoles.Replicator, Pooling = false }.ConnectionString;
        Assert.True(await Sql.ScalarAsync<bool>(asReplicator,
            "SELECT rolreplication AND has_table_privilege('subscribers', 'TRUNCATE') AND NOT has_table_privilege('geo_schema_migrations', 'INSERT') FROM pg_roles WHERE rolname = current_user"));
        var schema = await Assert.ThrowsAsync<Npgsql.PostgresException>(() => Sql.ScalarAsync<object>(asReplicator, "CREATE TABLE rogue (id int)"));
        Assert.Equal(Npgsql.PostgresErrorCodes.InsufficientPrivilege, schema.SqlState);
    }

    [Fact]
    public async Task GrantRoles_UnknownRoleOrWithoutAllShards_RefusedWithExit2()
    {
        var unknown = await RunAsync(["--all-shards", "--directory", "Host=x", "--server", "a=Host=x", "--grant-roles", "--role-password-file", "geo_superuser=/dev/null"]);
        var alone = await RunAsync(["tenant", "--connection", "Host=x", "--grant-roles"]);

        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("--role-password-file 'geo_superuser'", unknown.Error, StringComparison.Ordinal);
        Assert.Equal(2, alone.ExitCode);
        Assert.Contains("--grant-roles go with --all-shards", alone.Error, StringComparison.Ordinal);
    }

    private static string Database(string connectionString) => new Npgsql.NpgsqlConnectionStringBuilder(connectionString).Database!;

    private static async Task<(int ExitCode, string[] Lines, string Error)> RunAsync(string[] args, Dictionary<string, string>? environment = null)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exitCode = await MigrateCommand.RunAsync(args, output, error, name => environment?.GetValueOrDefault(name));
        return (exitCode, output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries), error.ToString());
    }
}
