using Geo.Directory.Shards;
using Geo.Directory.Stores.Memory;
using Geo.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Geo.Directory.Tests;

public sealed class DirectoryCacheTests
{
    [Fact]
    public async Task StartAsync_LoadsControlPlaneAndPlacements()
    {
        await using var store = await SeededStoreAsync();
        await store.TryAddPlacementAsync("acme", "alice", "b", default);
        await using var cache = new DirectoryCache(store, NullLogger<DirectoryCache>.Instance);

        await cache.StartAsync(default);

        Assert.Equal(2, cache.Current.Regions.Count);
        Assert.True(cache.Current.TryGetShardOf("acme", "alice", out var shard));
        Assert.Equal("b", shard.Key.HomeRegion);
        Assert.True(cache.IsConnected);
    }

    [Fact]
    public async Task ControlPlaneOnly_KeepsNoPlacementsButStillFindsThem()
    {
        await using var store = await SeededStoreAsync();
        await store.TryAddPlacementAsync("acme", "alice", "b", default);
        await using var cache = new DirectoryCache(store, NullLogger<DirectoryCache>.Instance, options: new DirectoryCacheOptions { Placements = false });
        await cache.StartAsync(default);

        await store.TryAddPlacementAsync("acme", "bob", "a", default);
        await store.TryUpdateShardAsync(new ShardKey("acme", "a"), 1, new ShardUpdate { State = ShardState.Retiring }, default);
        await WaitForAsync(cache, s => s.TryGetShard(new ShardKey("acme", "a"), out var x) && x.Epoch == 2 ? x : null);

        Assert.Equal(0, cache.Current.Placements.Count);
        Assert.Equal("b", await cache.FindHomeRegionAsync("acme", "alice", default));
        Assert.Equal(0, cache.Current.Placements.Count);
    }

    [Fact]
    public async Task Watch_ShardCompareAndSet_VisibleInSnapshot()
    {
        await using var store = await SeededStoreAsync();
        await using var cache = new DirectoryCache(store, NullLogger<DirectoryCache>.Instance);
        await cache.StartAsync(default);

        await store.TryUpdateShardAsync(new ShardKey("acme", "a"), 1, new ShardUpdate { OwnerRegion = "b" }, default);

        var shard = await WaitForAsync(cache, s => s.TryGetShard(new ShardKey("acme", "a"), out var x) && x.Epoch == 2 ? x : null);
        Assert.Equal("b", shard.OwnerRegion);
        Assert.Null(shard.StandbyRegion);
    }

    [Fact]
    public async Task Watch_PlacementAddedAndRemoved_AppliedWithoutReload()
    {
        await using var store = await SeededStoreAsync();
        await using var cache = new DirectoryCache(store, NullLogger<DirectoryCache>.Instance);
        await cache.StartAsync(default);
        var version = cache.Current.Version;

        var write = await store.TryAddPlacementAsync("acme", "carol", "a", default);
        await WaitForAsync(cache, s => s.Placements.TryGetHomeRegion("acme", "carol", out var home) ? home : null);
        await store.DeletePlacementAsync("acme", "carol", write.Placement.CreatedAt, default);
        await WaitForAsync(cache, s => s.Placements.TryGetHomeRegion("acme", "carol", out _) ? null : "gone");

        Assert.Equal(version, cache.Current.Version);
    }

    [Fact]
    public async Task FindHomeRegionAsync_PlacementNotYetNotified_ReadsThroughToStore()
    {
        var inner = await SeededStoreAsync();
        await using var store = new SilentPlacementStore(inner);
        await using var cache = new DirectoryCache(store, NullLogger<DirectoryCache>.Instance);
        await cache.StartAsync(default);
        await inner.TryAddPlacementAsync("acme", "dave", "b", default);

        Assert.False(cache.Current.Placements.TryGetHomeRegion("acme", "dave", out _));
        Assert.Equal("b", await cache.FindHomeRegionAsync("acme", "dave", default));
        Assert.True(cache.Current.Placements.TryGetHomeRegion("acme", "dave", out _));
        Assert.Null(await cache.FindHomeRegionAsync("acme", "nobody", default));
    }

    [Fact]
    public async Task Watch_FeedBreaks_ReconnectsAndReloadsWhatChangedMeanwhile()
    {
        var inner = await SeededStoreAsync();
        await using var store = new BreakableStore(inner);
        await using var cache = new DirectoryCache(store, NullLogger<DirectoryCache>.Instance, options: new DirectoryCacheOptions { ReconnectMinDelay = TimeSpan.FromMilliseconds(10), ReconnectMaxDelay = TimeSpan.FromMilliseconds(50) });
        await cache.StartAsync(default);

        // The change happens while the feed is broken: only the reload after reconnecting can bring it.
        store.BreakFeeds();
        await WaitForAsync(cache, s => cache.IsConnected ? null : "down");
        await inner.TryUpdateShardAsync(new ShardKey("acme", "b"), 1, new ShardUpdate { State = ShardState.Promoting }, default);
        store.Heal();

        var shard = await WaitForAsync(cache, s => s.TryGetShard(new ShardKey("acme", "b"), out var x) && x.Epoch == 2 ? x : null);
        Assert.Equal(ShardState.Promoting, shard.State);
        await WaitForAsync(cache, s => cache.IsConnected ? "up" : null);
    }

    [Fact]
    public async Task RefreshAsync_CallersArrivingDuringAReload_ShareTheNextOne()
    {
        await using var store = await SeededStoreAsync();
        var counting = new CountingStore(store);
        await using var cache = new DirectoryCache(counting, NullLogger<DirectoryCache>.Instance);
        await cache.StartAsync(default);
        var before = counting.Loads;
        var gate = counting.Hold();

        // The first caller's reload is held open; the others arrive while it runs and need a newer one.
        var first = cache.RefreshAsync(default);
        var others = Enumerable.Range(0, 19).Select(_ => cache.RefreshAsync(default)).ToArray();
        gate.SetResult();
        await first;
        await Task.WhenAll(others);

        Assert.Equal(2, counting.Loads - before);
    }

    internal static async Task<InMemoryDirectoryStore> SeededStoreAsync()
    {
        var store = new InMemoryDirectoryStore();
        await DirectoryFixtures.SeedAsync(store);
        return store;
    }

    internal static Task<T> WaitForAsync<T>(DirectoryCache cache, Func<DirectorySnapshot, T?> condition)
        where T : class =>
        Eventually.NotNullAsync(() => Task.FromResult(condition(cache.Current)), TimeSpan.FromSeconds(5), "the directory snapshot meets the condition");

    /// <summary>A store whose watch reports no placement changes (another process's write not notified yet).</summary>
    private sealed class SilentPlacementStore(InMemoryDirectoryStore inner) : DelegatingStore(inner)
    {
        public override async Task<IDirectoryWatch> WatchAsync(CancellationToken cancellationToken) => new Silent(await Inner.WatchAsync(cancellationToken));

        private sealed class Silent(IDirectoryWatch watch) : IDirectoryWatch
        {
            public async Task<DirectoryChange> WaitAsync(CancellationToken cancellationToken)
            {
                while (true)
                {
                    var change = await watch.WaitAsync(cancellationToken);
                    if (change.ControlPlane)
                    {
                        return change with { Placements = [] };
                    }
                }
            }

            public ValueTask DisposeAsync() => watch.DisposeAsync();
        }
    }

    /// <summary>A store whose feeds (and new watches) fail while broken.</summary>
    private sealed class BreakableStore(InMemoryDirectoryStore inner) : DelegatingStore(inner)
    {
        private volatile CancellationTokenSource _broken = new();
        private volatile bool _isBroken;

        public void BreakFeeds()
        {
            _isBroken = true;
            _broken.Cancel();
        }

        public void Heal()
        {
            _broken = new CancellationTokenSource();
            _isBroken = false;
        }

        public override async Task<IDirectoryWatch> WatchAsync(CancellationToken cancellationToken)
        {
            if (_isBroken)
            {
                throw new IOException("directory unreachable");
            }

            return new Feed(await Inner.WatchAsync(cancellationToken), _broken.Token);
        }

        private sealed class Feed(IDirectoryWatch watch, CancellationToken broken) : IDirectoryWatch
        {
            public async Task<DirectoryChange> WaitAsync(CancellationToken cancellationToken)
            {
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, broken);
                try
                {
                    return await watch.WaitAsync(linked.Token);
                }
                catch (OperationCanceledException) when (broken.IsCancellationRequested)
                {
                    throw new IOException("connection lost");
                }
            }

            public ValueTask DisposeAsync() => watch.DisposeAsync();
        }
    }

    private sealed class CountingStore(InMemoryDirectoryStore inner) : DelegatingStore(inner)
    {
        private int _loads;
        private TaskCompletionSource _gate = CompletedGate();

        public int Loads => Volatile.Read(ref _loads);

        /// <summary>Holds the next load open until the returned gate is completed (later loads pass).</summary>
        public TaskCompletionSource Hold()
        {
            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref _gate, gate);
            return gate;
        }

        public override async Task<DirectoryData> LoadAsync(CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _loads);
            var gate = Interlocked.Exchange(ref _gate, CompletedGate());
            await gate.Task;
            return await Inner.LoadAsync(cancellationToken);
        }

        private static TaskCompletionSource CompletedGate()
        {
            var gate = new TaskCompletionSource();
            gate.SetResult();
            return gate;
        }
    }
}
