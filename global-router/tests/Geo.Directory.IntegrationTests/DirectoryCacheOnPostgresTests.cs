using Geo.Directory.Placement;
using Geo.Directory.Shards;
using Geo.Directory.Stores.Postgres;
using Geo.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Geo.Directory.IntegrationTests;

public sealed class DirectoryCacheOnPostgresTests
{
    private static readonly ShardKey AcmeA = new("acme", "a");

    [Fact]
    public async Task Watch_EpochRaisedByAnotherProcess_VisibleInSnapshot()
    {
        var connectionString = await DirectoryDatabase.CreateAsync();
        await using var cache = await StartedCacheAsync(connectionString);
        await using var writer = new PostgresDirectoryStore(connectionString);

        await writer.TryUpdateShardAsync(AcmeA, 1, new ShardUpdate { OwnerRegion = "b" }, default);

        var shard = await WaitForAsync(cache, s => s.TryGetShard(AcmeA, out var x) && x.Epoch == 2 ? x : null);
        Assert.Equal("b", shard.OwnerRegion);
    }

    [Fact]
    public async Task Watch_PlacementsWrittenAndDeletedElsewhere_AppliedRowByRow()
    {
        var connectionString = await DirectoryDatabase.CreateAsync();
        await using var cache = await StartedCacheAsync(connectionString);
        await using var writer = new PostgresDirectoryStore(connectionString);
        var version = cache.Current.Version;

        var write = await writer.TryAddPlacementAsync("acme", "erin/with-slash", "b", default);
        await WaitForAsync(cache, s => s.Placements.TryGetHomeRegion("acme", "erin/with-slash", out var home) ? home : null);
        await writer.DeletePlacementAsync("acme", "erin/with-slash", write.Placement.CreatedAt, default);
        await WaitForAsync(cache, s => s.Placements.TryGetHomeRegion("acme", "erin/with-slash", out _) ? null : "removed");

        // Placement rows are applied from their notifications, never by reloading the directory.
        Assert.Equal(version, cache.Current.Version);
    }

    [Fact]
    public async Task Watch_PlacementsTruncated_ReloadedEmpty()
    {
        var connectionString = await DirectoryDatabase.CreateAsync();
        await using var writer = new PostgresDirectoryStore(connectionString);
        await writer.TryAddPlacementAsync("acme", "frank", "a", default);
        await using var cache = await StartedCacheAsync(connectionString);
        Assert.Equal(1, cache.Current.Placements.Count);

        await ExecuteAsync(connectionString, "TRUNCATE subscriber_placements");

        await WaitForAsync(cache, s => s.Placements.Count == 0 ? "empty" : null);
    }

    [Fact]
    public async Task Watch_ListenConnectionKilled_ReconnectsAndCatchesUp()
    {
        var connectionString = await DirectoryDatabase.CreateAsync();
        await using var cache = await StartedCacheAsync(connectionString);
        var listener = await ListenerPidAsync(connectionString);

        // The change is made while the listener is gone: only the reload after reconnecting can bring it.
        await ExecuteAsync(connectionString, "SELECT pg_terminate_backend($1)", listener);
        await using (var writer = new PostgresDirectoryStore(connectionString))
        {
            await writer.TryUpdateShardAsync(AcmeA, 1, new ShardUpdate { State = ShardState.Fenced }, default);
            await writer.TryAddPlacementAsync("acme", "gina", "a", default);
        }

        await WaitForAsync(cache, s => s.TryGetShard(AcmeA, out var x) && x.State == ShardState.Fenced ? x : null);
        await WaitForAsync(cache, s => s.Placements.TryGetHomeRegion("acme", "gina", out var home) ? home : null);
        await WaitForAsync(cache, s => cache.IsConnected ? "connected" : null);
        Assert.NotEqual(listener, await ListenerPidAsync(connectionString));
    }

    [Fact]
    public async Task OrphanSweep_OnPostgres_RemovesOnlyMissingRows()
    {
        var connectionString = await DirectoryDatabase.CreateAsync();
        await using var store = new PostgresDirectoryStore(connectionString);
        await store.TryAddPlacementAsync("acme", "kept", "a", default);
        await store.TryAddPlacementAsync("acme", "orphan", "a", default);
        await store.TryAddPlacementAsync("acme", "fresh-orphan", "b", default);
        await ExecuteAsync(connectionString, "UPDATE subscriber_placements SET created_at = now() - interval '1 hour' WHERE username <> 'fresh-orphan'");
        var sweeper = new OrphanPlacementSweeper(store, NullLogger<OrphanPlacementSweeper>.Instance);

        var removed = await sweeper.SweepAsync(new OrphanSweepOptions(), (_, usernames, _) =>
            Task.FromResult<IReadOnlySet<string>>(usernames.Where(u => u == "kept").ToHashSet()), default);

        Assert.Equal(1, removed);
        Assert.Null(await store.GetPlacementAsync("acme", "orphan", default));
        Assert.NotNull(await store.GetPlacementAsync("acme", "kept", default));
        Assert.NotNull(await store.GetPlacementAsync("acme", "fresh-orphan", default));
    }

    private static async Task<DirectoryCache> StartedCacheAsync(string connectionString)
    {
        var cache = new DirectoryCache(new PostgresDirectoryStore(connectionString), NullLogger<DirectoryCache>.Instance,
            options: new DirectoryCacheOptions { ReconnectMinDelay = TimeSpan.FromMilliseconds(20), ReconnectMaxDelay = TimeSpan.FromMilliseconds(200) });
        await cache.StartAsync(default);
        return cache;
    }

    private static async Task<int> ListenerPidAsync(string connectionString)
    {
        // The cache's LISTEN connection is the one idle in this database that listens (pg_listening_channels is per session,
        // so it is found by its last query).
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()", connection);
        var pid = await Eventually.ValueAsync(() => command.ExecuteScalarAsync(), value => value is int, TimeSpan.FromSeconds(5),
            "the cache's LISTEN connection shows in pg_stat_activity");
        return (int)pid!;
    }

    private static async Task ExecuteAsync(string connectionString, string sql, params object[] parameters)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        await command.ExecuteNonQueryAsync();
    }

    private static Task<T> WaitForAsync<T>(DirectoryCache cache, Func<DirectorySnapshot, T?> condition)
        where T : class =>
        Eventually.NotNullAsync(() => Task.FromResult(condition(cache.Current)), TimeSpan.FromSeconds(5), "the directory snapshot meets the condition");
}
