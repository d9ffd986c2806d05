using System.Net.Sockets;
using System.Text;
using Geo.Engines.Postgres;
using Geo.Engines.Redis;
using Geo.Schema;
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
