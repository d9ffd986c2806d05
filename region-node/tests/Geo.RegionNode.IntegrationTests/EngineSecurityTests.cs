using System.Net.Sockets;
using System.Text;
using Geo.Engines.Postgres;
using Geo.Engines.Redis;
using Geo.Replication.Applying;
using Geo.Replication;
using Geo.Replication.PgOutput;
using Geo.Schema;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Geo.RegionNode.IntegrationTests;

/// <summary>The stack's engines let no one in without credentials, and keep those credentials where only their owner reads them.</summary>
[Collection(RegionFixtureGroup.Name)]
public sealed class EngineSecurityTests(RegionFixture stack)
{
    [Fact]
    public async Task Postgres_ConnectionWithoutPassword_IsRefused()
    {
        var cluster = PostgresCluster.Open(stack.Layout.RegionPostgres("a"))!;
        var withoutPassword = new NpgsqlConnectionStringBuilder(cluster.ConnectionString("geo_acme_a")) { Passfile = null, Pooling = false }.ConnectionString;

        var refused = await Assert.ThrowsAnyAsync<NpgsqlException>(async () =>
        {
            await using var connection = new NpgsqlConnection(withoutPassword);
            await connection.OpenAsync();
        });

        Assert.Contains("password", refused.Message, StringComparison.OrdinalIgnoreCase);
        // With the password file, the same connection works.
        Assert.Equal(1, await NodeProbe.ScalarAsync<int>(cluster.ConnectionString("geo_acme_a"), "SELECT 1"));
    }

    [Fact]
    public async Task Postgres_NodeRole_ReadsAndWritesShardRows_ButNoSchemaNoDatabaseNoSuperuser()
    {
        var cluster = PostgresCluster.Open(stack.Layout.RegionPostgres("a"))!;
        var shard = stack.AsNode(cluster.ConnectionString("geo_acme_a"));

        Assert.Equal(ServiceRoles.RegionNode, await NodeProbe.ScalarAsync<string>(shard, "SELECT current_user"));
        Assert.False(await NodeProbe.ScalarAsync<bool>(shard, "SELECT rolsuper OR rolcreatedb OR rolcreaterole OR rolreplication FROM pg_roles WHERE rolname = current_user"));
        Assert.True(await NodeProbe.ScalarAsync<long>(shard, "SELECT count(*) FROM subscribers") > 0);
        Assert.Equal(0, await NodeProbe.ScalarAsync<int>(shard, "WITH u AS (UPDATE plans SET updated_at = updated_at WHERE false RETURNING 1) SELECT count(*)::int FROM u"));

        await AssertDeniedAsync(shard, "CREATE TABLE rogue (id int)");
        await AssertDeniedAsync(shard, "DROP TABLE ledger_entries");
        await AssertDeniedAsync(shard, "DELETE FROM geo_schema_migrations");
        await AssertDeniedAsync(shard, "UPDATE shard_fence SET epoch = epoch + 1");
        await AssertDeniedAsync(shard, "DELETE FROM replication_progress");
        await AssertDeniedAsync(shard, "CREATE DATABASE rogue");
        await AssertDeniedAsync(shard, "CREATE ROLE rogue");
        await AssertDeniedAsync(shard, "COPY subscribers TO PROGRAM 'true'");
    }

    [Fact]
    public async Task Postgres_NodeRole_InTheDirectory_WritesLeasesAndPlacementsOnly()
    {
        var directory = stack.AsNode(stack.DirectoryConnectionString);

        Assert.True(await NodeProbe.ScalarAsync<long>(directory, "SELECT count(*) FROM shards") > 0);
        Assert.True(await NodeProbe.ScalarAsync<long>(directory, "SELECT count(*) FROM shard_owner_leases") > 0);
        await AssertDeniedAsync(directory, "UPDATE shards SET owner_region = home_region");
        await AssertDeniedAsync(directory, "DELETE FROM subscriber_placements");
        await AssertDeniedAsync(directory, "SELECT count(*) FROM operator_keys");
        await AssertDeniedAsync(directory, "SELECT count(*) FROM audit_log");
        await AssertDeniedAsync(directory, "INSERT INTO dr_events (tenant_id, home_region, operation, step, outcome) VALUES ('x', 'a', 'promote', 'start', 'started')");
    }

    [Fact]
    public async Task Postgres_RouterRole_WritesDirectoryRows_ButNoSchema()
    {
        var directory = new NpgsqlConnectionStringBuilder(stack.DirectoryConnectionString)
        {
            Username = ServiceRoles.Router,
            Passfile = stack.Layout.ServicePassfile(ServiceRoles.Router),
        }.ConnectionString;

        Assert.True(await NodeProbe.ScalarAsync<long>(directory, "SELECT count(*) FROM subscriber_placements") > 0);
        Assert.Equal(0, await NodeProbe.ScalarAsync<int>(directory, "WITH d AS (DELETE FROM subscriber_placements WHERE false RETURNING 1) SELECT count(*)::int FROM d"));
        await AssertDeniedAsync(directory, "CREATE TABLE rogue (id int)");
        await AssertDeniedAsync(directory, "DELETE FROM geo_schema_migrations");
        await AssertDeniedAsync(directory, "CREATE DATABASE rogue");
        // The region servers have no router role at all: provisioning there is the administrator's.
        var password = File.ReadAllText(stack.Layout.ServicePassfile(ServiceRoles.Router)).Trim().Split(':')[^1];
        var region = new NpgsqlConnectionStringBuilder(directory)
        {
            Port = PostgresCluster.Open(stack.Layout.RegionPostgres("a"))!.Port,
            Database = "geo_acme_a",
            Passfile = null,
            Password = password,
            Pooling = false,
        }.ConnectionString;
        var denied = await Assert.ThrowsAsync<PostgresException>(() => NodeProbe.ScalarAsync<int>(region, "SELECT 1"));
        Assert.Equal(PostgresErrorCodes.InvalidPassword, denied.SqlState);
    }

    [Fact]
    public async Task Postgres_ReplicatorRole_StreamsAndCopiesRows_ButNoSchemaNoDatabaseNoDirectoryWrites()
    {
        var a = PostgresCluster.Open(stack.Layout.RegionPostgres("a"))!;
        var b = PostgresCluster.Open(stack.Layout.RegionPostgres("b"))!;
        var source = AsReplicator(a.ConnectionString("geo_acme_a"));
        // 'geoctl up' made the replica of acme@a in region b (read-only, migrated): the replicator's role could not have.
        var replica = AsReplicator(b.ConnectionString("geo_acme_a"));

        Assert.Equal(ServiceRoles.Replicator, await NodeProbe.ScalarAsync<string>(source, "SELECT current_user"));
        Assert.True(await NodeProbe.ScalarAsync<bool>(source, "SELECT rolreplication AND NOT (rolsuper OR rolcreatedb OR rolcreaterole) FROM pg_roles WHERE rolname = current_user"));
        Assert.True(await NodeProbe.ScalarAsync<long>(source, "SELECT count(*) FROM subscribers") > 0);
        // The publication came with the tenant migrations: there is nothing left for the replicator to create.
        Assert.Contains("public.subscribers", await ReplicationSlots.EnsurePublicationAsync(source, ReplicationSlots.DefaultPublication));
        await ReplicaGuard.PrepareAsync(replica, applyTenantMigrations: true, NullLogger.Instance);
        // The applier replays rows without triggers and empties tables for a fresh copy.
        Assert.Equal("replica", await NodeProbe.ScalarAsync<string>(PlatformDatabases.WritableReplica(replica), "SELECT set_config('session_replication_role', 'replica', false)"));
        Assert.True(await NodeProbe.ScalarAsync<bool>(replica, "SELECT has_table_privilege('subscribers', 'TRUNCATE') AND has_table_privilege('replication_progress', 'UPDATE')"));

        await AssertDeniedAsync(source, "CREATE TABLE rogue (id int)");
        await AssertDeniedAsync(source, "DROP TABLE ledger_entries");
        await AssertDeniedAsync(source, "CREATE PUBLICATION rogue FOR TABLE plans");
        await AssertDeniedAsync(source, "ALTER DATABASE geo_acme_a SET default_transaction_read_only = on");
        await AssertDeniedAsync(source, "DELETE FROM geo_schema_migrations");
        await AssertDeniedAsync(source, "CREATE DATABASE rogue");
        await AssertDeniedAsync(source, "CREATE ROLE rogue");
        await AssertDeniedAsync(source, "COPY subscribers TO PROGRAM 'true'");
        // A replica nobody prepared: the replicator waits, saying who makes it.
        var missing = await Assert.ThrowsAsync<ReplicationException>(() =>
            ReplicaGuard.PrepareAsync(AsReplicator(b.ConnectionString("geo_nobody_a")), applyTenantMigrations: true, NullLogger.Instance));
        Assert.Contains("does not exist and role geo_replicator may not create it", missing.Message, StringComparison.Ordinal);
        Assert.Contains("geo-migrate", missing.Message, StringComparison.Ordinal);

        var directory = AsReplicator(stack.DirectoryConnectionString);
        Assert.True(await NodeProbe.ScalarAsync<long>(directory, "SELECT count(*) FROM shards") > 0);
        await AssertDeniedAsync(directory, "UPDATE shards SET owner_region = home_region");
        await AssertDeniedAsync(directory, "SELECT count(*) FROM subscriber_placements");
        await AssertDeniedAsync(directory, "SELECT count(*) FROM operator_keys");
        await AssertDeniedAsync(directory, "INSERT INTO dr_events (tenant_id, home_region, operation, step, outcome) VALUES ('x', 'a', 'promote', 'start', 'started')");
    }

    private string AsReplicator(string connectionString) =>
        new NpgsqlConnectionStringBuilder(connectionString) { Username = ServiceRoles.Replicator, Passfile = stack.Layout.ServicePassfile(ServiceRoles.Replicator), Pooling = false }.ConnectionString;

    private static async Task AssertDeniedAsync(string connectionString, string sql)
    {
        var denied = await Assert.ThrowsAsync<PostgresException>(() => NodeProbe.ScalarAsync<object>(connectionString, sql));
        Assert.True(denied.SqlState == PostgresErrorCodes.InsufficientPrivilege, $"{sql}: {denied.SqlState} {denied.MessageText}");
    }

    [Fact]
    public async Task Postgres_WrongPassword_IsRefused()
    {
        var cluster = PostgresCluster.Open(stack.Layout.DirectoryPostgres)!;
        var wrong = new NpgsqlConnectionStringBuilder(cluster.ConnectionString()) { Passfile = null, Password = "not-the-password", Pooling = false }.ConnectionString;

        var refused = await Assert.ThrowsAsync<PostgresException>(async () =>
        {
            await using var connection = new NpgsqlConnection(wrong);
            await connection.OpenAsync();
        });

        Assert.Equal(PostgresErrorCodes.InvalidPassword, refused.SqlState);
    }

    [Fact]
    public async Task Redis_CommandWithoutAuth_IsRefused()
    {
        var redis = RedisServer.Open(stack.Layout.RegionRedis("a"))!;
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", redis.Port);
        var stream = client.GetStream();
        await stream.WriteAsync("GET geo:anything\r\n"u8.ToArray());
        var buffer = new byte[256];
        var read = await stream.ReadAsync(buffer);

        Assert.StartsWith("-NOAUTH", Encoding.ASCII.GetString(buffer, 0, read), StringComparison.Ordinal);
        Assert.True(await redis.PingAsync(), "with its password, the server answers");
    }

    [Fact]
    public void Secrets_AndDataFolders_AreTheOwnersOnly()
    {
        const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        const UnixFileMode OwnerFolder = OwnerOnly | UnixFileMode.UserExecute;
        var postgres = PostgresCluster.Open(stack.Layout.RegionPostgres("a"))!;
        var redis = RedisServer.Open(stack.Layout.RegionRedis("a"))!;

        Assert.Equal(OwnerOnly, File.GetUnixFileMode(postgres.PasswordFile));
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(redis.PasswordFile));
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(Path.Combine(redis.Directory, "redis.conf")));
        Assert.Equal(OwnerFolder, File.GetUnixFileMode(postgres.Directory));
        Assert.Equal(OwnerFolder, File.GetUnixFileMode(redis.Directory));
        // Others may pass through the stack's folder (the PostgreSQL user must), never list it.
        Assert.Equal(OwnerFolder | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute, File.GetUnixFileMode(stack.StateDir));
    }
}
