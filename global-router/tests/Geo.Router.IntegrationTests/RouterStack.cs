using System.Net;
using Geo.Directory.Nas;
using Geo.Directory.Regions;
using Geo.Directory.Shards;
using Geo.Directory.Stores.Postgres;
using Geo.Directory.Tenants;
using Geo.Schema.Migrations;
using Geo.Testing;
using Npgsql;

namespace Geo.Router.IntegrationTests;

/// <summary>
/// One test's world: a real PostgreSQL directory (regions a and b, tenant acme homed in both, alice placed in a
/// and bob in b, NAS bng-a/bng-b), two region stand-ins, and a geo-router in-process on a free port.
/// </summary>
internal sealed class RouterStack : IAsyncDisposable
{
    private RouterStack(string directory, PostgresDirectoryStore store, RegionStandIn a, RegionStandIn b, RouterServer router)
    {
        DirectoryConnectionString = directory;
        Store = store;
        A = a;
        B = b;
        Router = router;
        Client = new HttpClient { BaseAddress = router.Url, Timeout = TimeSpan.FromSeconds(10) };
    }

    public string DirectoryConnectionString { get; }

    public PostgresDirectoryStore Store { get; }

    public RegionStandIn A { get; }

    public RegionStandIn B { get; }

    public RouterServer Router { get; }

    public HttpClient Client { get; }

    public static ShardKey AcmeA { get; } = new("acme", "a");

    public static ShardKey AcmeB { get; } = new("acme", "b");

    public static async Task<RouterStack> StartAsync(TimeSpan? healthInterval = null)
    {
        var directory = await (await TestPostgres.SharedAsync()).CreateDatabaseAsync("routerdir");
        await new MigrationRunner().ApplyAsync(directory, MigrationSet.Directory);
        var a = await RegionStandIn.StartAsync("a");
        var b = await RegionStandIn.StartAsync("b");
        var store = new PostgresDirectoryStore(directory);
        await store.UpsertRegionAsync(new Region("a", "Region a", a.Url, "127.0.0.1", 1812, 1813), default);
        await store.UpsertRegionAsync(new Region("b", "Region b", b.Url, "127.0.0.1", 2812, 2813), default);
        await store.UpsertTenantAsync(new Tenant("acme", "Acme"), default);
        await store.CreateShardAsync(new Shard(AcmeA, "a", "b", 1, ShardState.Active, null, "geo_acme_a"), default);
        await store.CreateShardAsync(new Shard(AcmeB, "b", "a", 1, ShardState.Active, null, "geo_acme_b"), default);
        await store.UpsertNasAsync(new NasDevice("acme", "bng-a", IPAddress.Parse("127.0.10.1"), "a", "b"), default);
        await store.UpsertNasAsync(new NasDevice("acme", "bng-b", IPAddress.Parse("127.0.10.2"), "b", "a"), default);
        await store.TryAddPlacementAsync("acme", "alice", "a", default);
        await store.TryAddPlacementAsync("acme", "bob", "b", default);

        var router = RouterServer.Create(["--Logging:LogLevel:Default=Warning", "--urls=http://127.0.0.1:0"], options =>
        {
            options.DirectoryConnectionString = directory;
            options.HealthCheckInterval = healthInterval ?? TimeSpan.FromMilliseconds(200);
            // Generous: a loaded test machine must not fail a check of a healthy stand-in.
            options.HealthCheckTimeout = TimeSpan.FromSeconds(2);
        });
        await router.StartAsync();
        return new RouterStack(directory, store, a, b, router);
    }

    public async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(DirectoryConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Router.DisposeAsync();
        await A.DisposeAsync();
        await B.DisposeAsync();
        await Store.DisposeAsync();
    }
}
