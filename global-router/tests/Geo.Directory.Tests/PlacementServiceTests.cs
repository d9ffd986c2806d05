using Geo.Directory.Placement;
using Geo.Directory.Shards;
using Geo.Directory.Stores.Memory;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Geo.Directory.Tests;

public sealed class PlacementServiceTests
{
    [Theory]
    [InlineData("b", null, "b")]
    [InlineData(null, "bng-a", "a")]
    [InlineData(null, "bng-b", "b")]
    [InlineData("a", "bng-b", "a")]
    public async Task Choose_ExplicitRegionElseNasRegion_Chosen(string? region, string? nasId, string expected)
    {
        await using var cache = await StartedCacheAsync();
        var service = new PlacementService(cache);

        var choice = service.Choose("acme", region, nasId);

        Assert.Equal(PlacementStatus.Chosen, choice.Status);
        Assert.Equal(expected, choice.HomeRegion);
    }

    [Fact]
    public async Task Choose_NothingNamedSingleShardTenant_ThatShard()
    {
        await using var cache = await StartedCacheAsync();

        Assert.Equal("b", new PlacementService(cache).Choose("zenith", null, null).HomeRegion);
    }

    [Theory]
    [InlineData("nobody", null, null, PlacementStatus.UnknownTenant)]
    [InlineData("acme", null, null, PlacementStatus.RegionRequired)]
    [InlineData("acme", "eu-west", null, PlacementStatus.UnknownRegion)]
    [InlineData("zenith", "a", null, PlacementStatus.UnknownRegion)]
    [InlineData("acme", null, "bng-x", PlacementStatus.UnknownNas)]
    public async Task Choose_Unplaceable_RefusedWithReason(string tenant, string? region, string? nasId, PlacementStatus status)
    {
        await using var cache = await StartedCacheAsync();

        var choice = new PlacementService(cache).Choose(tenant, region, nasId);

        Assert.Equal(status, choice.Status);
        Assert.Null(choice.HomeRegion);
        Assert.False(string.IsNullOrEmpty(choice.Error));
    }

    [Fact]
    public async Task WriteAsync_NewSubscriber_StoredAndVisibleAtOnce()
    {
        await using var cache = await StartedCacheAsync();

        var write = await new PlacementService(cache).WriteAsync("acme", "erin", "b", default);

        Assert.True(write.Created);
        Assert.True(cache.Current.Placements.TryGetHomeRegion("acme", "erin", out var home));
        Assert.Equal("b", home);
        Assert.NotNull(await cache.Store.GetPlacementAsync("acme", "erin", default));
    }

    [Fact]
    public async Task WriteAsync_AlreadyPlacedElsewhere_ExistingWins()
    {
        await using var cache = await StartedCacheAsync();
        var service = new PlacementService(cache);
        await service.WriteAsync("acme", "frank", "a", default);

        var second = await service.WriteAsync("acme", "frank", "b", default);

        Assert.False(second.Created);
        Assert.Equal("a", second.Placement.HomeRegion);
    }

    [Fact]
    public async Task UndoAsync_PlacementStillTheOneWritten_RemovedFromStoreAndMemory()
    {
        await using var cache = await StartedCacheAsync();
        var service = new PlacementService(cache);
        var write = await service.WriteAsync("acme", "gina", "a", default);

        var undone = await service.UndoAsync(write, default);

        Assert.True(undone);
        Assert.Null(await cache.Store.GetPlacementAsync("acme", "gina", default));
        Assert.False(cache.Current.Placements.TryGetHomeRegion("acme", "gina", out _));
    }

    [Fact]
    public async Task UndoAsync_PlacementReplacedMeanwhile_KeepsTheNewOne()
    {
        await using var cache = await StartedCacheAsync();
        var service = new PlacementService(cache);
        var first = await service.WriteAsync("acme", "hugo", "a", default);
        await cache.Store.DeletePlacementAsync("acme", "hugo", null, default);
        await cache.Store.TryAddPlacementAsync("acme", "hugo", "b", default);

        var undone = await service.UndoAsync(first with { Placement = first.Placement with { CreatedAt = first.Placement.CreatedAt.AddTicks(-10) } }, default);

        Assert.False(undone);
        Assert.Equal("b", (await cache.Store.GetPlacementAsync("acme", "hugo", default))!.HomeRegion);
    }

    [Fact]
    public async Task UndoAsync_PlacementThisWriteDidNotCreate_Refused()
    {
        await using var cache = await StartedCacheAsync();
        var service = new PlacementService(cache);
        await service.WriteAsync("acme", "ivan", "a", default);
        var second = await service.WriteAsync("acme", "ivan", "a", default);

        await Assert.ThrowsAsync<ArgumentException>(() => service.UndoAsync(second, default));
        Assert.NotNull(await cache.Store.GetPlacementAsync("acme", "ivan", default));
    }

    private static async Task<DirectoryCache> StartedCacheAsync()
    {
        var cache = new DirectoryCache(await DirectoryCacheTests.SeededStoreAsync(), NullLogger<DirectoryCache>.Instance);
        await cache.StartAsync(default);
        return cache;
    }
}

public sealed class OrphanPlacementSweeperTests
{
    private static readonly DateTimeOffset Start = new(2025, 1, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task SweepAsync_OldPlacementWithoutRow_Removed_OthersKept()
    {
        var time = new FakeTimeProvider(Start);
        await using var store = await SeededAsync(time);
        await store.TryAddPlacementAsync("acme", "orphan", "a", default);
        await store.TryAddPlacementAsync("acme", "real", "a", default);
        await store.TryAddPlacementAsync("acme", "real-b", "b", default);
        time.Advance(TimeSpan.FromMinutes(30));
        await store.TryAddPlacementAsync("acme", "young-orphan", "a", default);
        var asked = new List<(ShardKey, string[])>();
        var sweeper = new OrphanPlacementSweeper(store, NullLogger<OrphanPlacementSweeper>.Instance, time);

        var removed = await sweeper.SweepAsync(new OrphanSweepOptions { MinAge = TimeSpan.FromMinutes(10) }, (shard, usernames, _) =>
        {
            asked.Add((shard, [.. usernames]));
            return Task.FromResult<IReadOnlySet<string>>(usernames.Where(u => u.StartsWith("real", StringComparison.Ordinal)).ToHashSet());
        }, default);

        Assert.Equal(1, removed);
        Assert.Null(await store.GetPlacementAsync("acme", "orphan", default));
        Assert.NotNull(await store.GetPlacementAsync("acme", "real", default));
        Assert.NotNull(await store.GetPlacementAsync("acme", "young-orphan", default));
        Assert.Contains(asked, a => a.Item1 == new ShardKey("acme", "b") && a.Item2.SequenceEqual(["real-b"]));
    }

    [Fact]
    public async Task SweepAsync_ExistenceCheckFails_KeepsThatBatch()
    {
        var time = new FakeTimeProvider(Start);
        await using var store = await SeededAsync(time);
        await store.TryAddPlacementAsync("acme", "maybe", "a", default);
        time.Advance(TimeSpan.FromHours(1));
        var sweeper = new OrphanPlacementSweeper(store, NullLogger<OrphanPlacementSweeper>.Instance, time);

        var removed = await sweeper.SweepAsync(new OrphanSweepOptions(), (_, _, _) => throw new HttpRequestException("region a unreachable"), default);

        Assert.Equal(0, removed);
        Assert.NotNull(await store.GetPlacementAsync("acme", "maybe", default));
    }

    [Fact]
    public async Task SweepAsync_ManyPages_EveryOrphanRemoved()
    {
        var time = new FakeTimeProvider(Start);
        await using var store = await SeededAsync(time);
        for (var i = 0; i < 25; i++)
        {
            await store.TryAddPlacementAsync("acme", $"o{i:D2}", "a", default);
            time.Advance(TimeSpan.FromSeconds(1));
        }

        time.Advance(TimeSpan.FromHours(1));
        var sweeper = new OrphanPlacementSweeper(store, NullLogger<OrphanPlacementSweeper>.Instance, time);

        var removed = await sweeper.SweepAsync(new OrphanSweepOptions { BatchSize = 7 }, (_, _, _) => Task.FromResult<IReadOnlySet<string>>(new HashSet<string>()), default);

        Assert.Equal(25, removed);
    }

    private static async Task<InMemoryDirectoryStore> SeededAsync(TimeProvider time)
    {
        var store = new InMemoryDirectoryStore(time);
        foreach (var shard in DirectoryFixtures.Data().Shards)
        {
            await store.CreateShardAsync(shard, default);
        }

        return store;
    }
}
