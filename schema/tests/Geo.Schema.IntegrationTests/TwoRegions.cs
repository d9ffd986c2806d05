using Geo.Schema.Migrations;
using Geo.Testing;
using Npgsql;

namespace Geo.Schema.IntegrationTests;

/// <summary>
/// Two PostgreSQL servers standing for regions a and b. A shard's source and replica databases have the same name,
/// so one server cannot stand for two regions: each region gets a cluster of its own.
/// </summary>
public sealed class TwoRegionServers : IAsyncLifetime
{
    public TestPostgres A { get; private set; } = null!;

    public TestPostgres B { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var a = TestPostgres.StartAsync();
        var b = TestPostgres.StartAsync();
        A = await a;
        B = await b;
    }

    public async Task DisposeAsync()
    {
        await A.DisposeAsync();
        await B.DisposeAsync();
    }

    /// <summary>A new platform on these servers: its own directory database (regions a, b and c), no shards yet.</summary>
    public async Task<TestPlatform> NewPlatformAsync()
    {
        var directory = await A.CreateDatabaseAsync("directory");
        await new MigrationRunner().ApplyAsync(directory, MigrationSet.Directory);
        await using var connection = new NpgsqlConnection(directory);
        await connection.OpenAsync();
        await using var regions = new NpgsqlCommand("""
            INSERT INTO regions (id, display_name, api_url, radius_host, radius_auth_port, radius_acct_port) VALUES
                ('a', 'A', 'http://a', 'a', 1812, 1813), ('b', 'B', 'http://b', 'b', 1812, 1813), ('c', 'C', 'http://c', 'c', 1812, 1813)
            """, connection);
        await regions.ExecuteNonQueryAsync();
        return new TestPlatform(this, directory);
    }
}

[CollectionDefinition(Name)]
public sealed class TwoRegionsGroup : ICollectionFixture<TwoRegionServers>
{
    public const string Name = "two regions";
}

/// <summary>A directory database on <see cref="TwoRegionServers"/>, and helpers to list shards and create their databases.</summary>
public sealed class TestPlatform(TwoRegionServers servers, string directory)
{
    public string Directory { get; } = directory;

    /// <summary>Region a and b on their servers (region c is in the directory but has no server).</summary>
    public PlatformDatabases Databases(IReadOnlyDictionary<string, string>? replace = null)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal) { ["a"] = servers.A.ConnectionString(), ["b"] = servers.B.ConnectionString() };
        foreach (var (region, server) in replace ?? new Dictionary<string, string>())
        {
            map[region] = server;
        }

        return new PlatformDatabases(Directory, map);
    }

    public TestPostgres Server(string region) => region switch
    {
        "a" => servers.A,
        "b" => servers.B,
        _ => throw new ArgumentException($"region {region} has no test server", nameof(region)),
    };

    /// <summary>The connection string of a database on a region's server.</summary>
    public string Database(string region, string database) => Server(region).ConnectionString(database);

    /// <summary>
    /// Lists a shard of a new tenant (whose id starts with <paramref name="tenantPrefix"/>, so tests control the order)
    /// and creates its source and replica databases when asked (empty, as a new shard has them).
    /// </summary>
    public async Task<ShardLocation> AddShardAsync(string tenantPrefix, string owner, string? standby, bool createSource = true, bool createReplica = true)
    {
        var tenant = $"{tenantPrefix}_{Guid.NewGuid().ToString("N")[..10]}";
        var database = ShardDatabase.Name(tenant, owner);
        await using (var connection = new NpgsqlConnection(Directory))
        {
            await connection.OpenAsync();
            await using var insert = new NpgsqlCommand("""
                INSERT INTO tenants (id, display_name) VALUES (@tenant, @tenant);
                INSERT INTO shards (tenant_id, home_region, owner_region, standby_region, database_name) VALUES (@tenant, @owner, @owner, @standby, @database);
                """, connection);
            insert.Parameters.AddWithValue("tenant", tenant);
            insert.Parameters.AddWithValue("owner", owner);
            insert.Parameters.AddWithValue("standby", (object?)standby ?? DBNull.Value);
            insert.Parameters.AddWithValue("database", database);
            await insert.ExecuteNonQueryAsync();
        }

        if (createSource)
        {
            await CreateDatabaseAsync(owner, database);
        }

        if (createReplica && standby is not null)
        {
            await CreateDatabaseAsync(standby, database);
        }

        return new ShardLocation(tenant, owner, owner, standby, "active", database);
    }

    public async Task CreateDatabaseAsync(string region, string database)
    {
        await using var connection = new NpgsqlConnection(Server(region).ConnectionString());
        await connection.OpenAsync();
        await using var create = new NpgsqlCommand($"CREATE DATABASE {ShardDatabase.Quote(database)}", connection);
        await create.ExecuteNonQueryAsync();
    }

    /// <summary>The tenant migration versions recorded in a database; empty when it has no migration history.</summary>
    public async Task<List<int>> AppliedVersionsAsync(string region, string database)
    {
        var connectionString = Database(region, database);
        if (await Sql.ScalarAsync<string>(connectionString, "SELECT to_regclass('geo_schema_migrations')::text") is null)
        {
            return [];
        }

        return await Sql.QueryAsync<int>(connectionString, "SELECT version FROM geo_schema_migrations WHERE set_name = 'tenant' ORDER BY version");
    }
}
