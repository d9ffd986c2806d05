using System.Net;
using System.Security.Cryptography;
using System.Text;
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
/// and bob in b, NAS bng-a/bng-b; tenant zenith homed in a with zed placed), two region stand-ins, and a geo-router
/// in-process on a free port. <see cref="Client"/> sends acme's API key; the operator key opens /directory and /admin.
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
        Client.DefaultRequestHeaders.Authorization = new("Bearer", AcmeKey);
        Anonymous = new HttpClient { BaseAddress = router.Url, Timeout = TimeSpan.FromSeconds(10) };
    }

    // Generous, and not what is tested: the router has no periodic reload and checks health every 200 ms, so reacting at
    // all proves the notification or the check; how fast it reacts is a benchmark's question, not a loaded CI machine's.
    public static readonly TimeSpan Settle = TimeSpan.FromSeconds(10);

    public const string AcmeKey = "geo_acme_test-key-of-acme-0123456789";

    public const string ZenithKey = "geo_zenith_test-key-of-zenith-01234567";

    public const string OperatorKey = "geo_operator_test-key-0123456789";

    public string DirectoryConnectionString { get; }

    public PostgresDirectoryStore Store { get; }

    public RegionStandIn A { get; }

    public RegionStandIn B { get; }

    public RouterServer Router { get; }

    /// <summary>Sends acme's API key.</summary>
    public HttpClient Client { get; }

    /// <summary>Sends no key.</summary>
    public HttpClient Anonymous { get; }

    public static ShardKey AcmeA { get; } = new("acme", "a");

    public static ShardKey AcmeB { get; } = new("acme", "b");

    public static async Task<RouterStack> StartAsync(TimeSpan? healthInterval = null, Action<RouterOptions>? configure = null)
    {
        var postgres = await TestPostgres.SharedAsync();
        var directory = await postgres.CreateDatabaseAsync("routerdir");
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
        await store.SetTenantApiKeyHashAsync("acme", SHA256.HashData(Encoding.UTF8.GetBytes(AcmeKey)), onlyIfUnset: false, default);
        await store.UpsertTenantAsync(new Tenant("zenith", "Zenith"), default);
        await store.CreateShardAsync(new Shard(new ShardKey("zenith", "a"), "a", null, 1, ShardState.Active, null, "geo_zenith_a"), default);
        await store.TryAddPlacementAsync("zenith", "zed", "a", default);
        await store.SetTenantApiKeyHashAsync("zenith", SHA256.HashData(Encoding.UTF8.GetBytes(ZenithKey)), onlyIfUnset: false, default);

        var router = RouterServer.Create(["--Logging:LogLevel:Default=Warning", "--urls=http://127.0.0.1:0"], options =>
        {
            options.DirectoryConnectionString = directory;
            options.HealthCheckInterval = healthInterval ?? TimeSpan.FromMilliseconds(200);
            // Generous: a loaded test machine must not fail a check of a healthy stand-in.
            options.HealthCheckTimeout = TimeSpan.FromSeconds(2);
            options.Admin.OperatorKeySha256 = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(OperatorKey)));
            options.Admin.Servers["a"] = postgres.ConnectionString();
            options.Admin.Servers["b"] = postgres.ConnectionString();
            configure?.Invoke(options);
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
        Anonymous.Dispose();
        await Router.DisposeAsync();
        await A.DisposeAsync();
        await B.DisposeAsync();
        await Store.DisposeAsync();
    }
}
