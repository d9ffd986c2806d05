using System.Net;
using Geo.Directory.Nas;
using Geo.Directory.Regions;
using Geo.Directory.Shards;
using Geo.Directory.Stores.Postgres;
using Geo.Directory.Tenants;
using Geo.Schema.Migrations;
using Geo.Testing;

namespace Geo.Directory.IntegrationTests;

/// <summary>A fresh directory database on the shared test cluster, migrated and seeded: regions a and b, tenant acme homed in both.</summary>
internal static class DirectoryDatabase
{
    public static async Task<string> CreateAsync()
    {
        var connectionString = await (await TestPostgres.SharedAsync()).CreateDatabaseAsync("directory");
        await new MigrationRunner().ApplyAsync(connectionString, MigrationSet.Directory);
        await using var store = new PostgresDirectoryStore(connectionString);
        await store.UpsertRegionAsync(new Region("a", "Region a", new Uri("http://127.0.0.1:1001"), "127.0.0.1", 1812, 1813), default);
        await store.UpsertRegionAsync(new Region("b", "Region b", new Uri("http://127.0.0.1:1002"), "127.0.0.1", 2812, 2813), default);
        await store.UpsertTenantAsync(new Tenant("acme", "Acme Broadband"), default);
        await store.CreateShardAsync(new Shard(new ShardKey("acme", "a"), "a", "b", 1, ShardState.Active, null, "geo_acme_a"), default);
        await store.CreateShardAsync(new Shard(new ShardKey("acme", "b"), "b", "a", 1, ShardState.Active, null, "geo_acme_b"), default);
        await store.UpsertNasAsync(new NasDevice("acme", "bng-a", IPAddress.Parse("127.0.10.1"), "a", "b"), default);
        return connectionString;
    }
}
