using System.Net.Sockets;
using System.Text;
using Geo.Engines.Postgres;
using Geo.Engines.Redis;
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
