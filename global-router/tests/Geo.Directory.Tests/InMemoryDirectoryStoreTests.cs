using System.Net;
using Geo.Directory.Nas;
using Geo.Directory.Placement;
using Geo.Directory.Shards;
using Geo.Directory.Stores.Memory;
using Geo.Directory.Tenants;
using Microsoft.Extensions.Logging.Abstractions;

namespace Geo.Directory.Tests;

/// <summary>The lifecycle operations of the in-memory store: shard state, shard and tenant removal, API key hash.</summary>
public sealed class InMemoryDirectoryStoreTests
{
    private static readonly ShardKey AcmeA = new("acme", "a");
    private static readonly ShardKey AcmeB = new("acme", "b");
    private static readonly byte[] FirstHash = [.. Enumerable.Repeat((byte)0x11, 32)];
    private static readonly byte[] SecondHash = [.. Enumerable.Repeat((byte)0x22, 32)];

    [Fact]
    public async Task TrySetShardStateAsync_ExpectedState_OnlyStateChanges()
    {
        await using var store = await DirectoryCacheTests.SeededStoreAsync();
        // Epoch 3 and a lease, so that a reset or a raise of the epoch, or a lost lease, would show.
        await store.TryUpdateShardAsync(AcmeA, 1, new ShardUpdate { State = ShardState.Switching }, default);
        await store.TryUpdateShardAsync(AcmeA, 2, new ShardUpdate { State = ShardState.Active }, default);
        await store.TryAcquireLeaseAsync(AcmeA, "dr-1", TimeSpan.FromMinutes(5), default);
        var before = await ShardAsync(store, AcmeA);

        var result = await store.TrySetShardStateAsync(AcmeA, ShardState.Active, ShardState.Retiring, default);

        Assert.Equal(ShardUpdateOutcome.Updated, result.Outcome);
        Assert.Equal(before with { State = ShardState.Retiring }, result.Current);
        Assert.Equal(before with { State = ShardState.Retiring }, await ShardAsync(store, AcmeA));
        Assert.Equal(3, result.Current!.Epoch);
    }

    [Fact]
    public async Task TrySetShardStateAsync_OtherState_StateMismatchWithCurrentAndNoChange()
    {
        await using var store = await DirectoryCacheTests.SeededStoreAsync();
        var before = await ShardAsync(store, AcmeA);

        var result = await store.TrySetShardStateAsync(AcmeA, ShardState.Provisioning, ShardState.Active, default);

        Assert.Equal(ShardUpdateOutcome.StateMismatch, result.Outcome);
        Assert.Equal(before, result.Current);
        Assert.Equal(before, await ShardAsync(store, AcmeA));
    }

    [Fact]
    public async Task TrySetShardStateAsync_UnknownShard_NotFound()
    {
        await using var store = await DirectoryCacheTests.SeededStoreAsync();

        var result = await store.TrySetShardStateAsync(new ShardKey("acme", "zz"), ShardState.Active, ShardState.Retiring, default);

        Assert.Equal(ShardUpdateOutcome.NotFound, result.Outcome);
        Assert.Null(result.Current);
    }

    [Fact]
    public async Task TrySetShardStateAsync_Applied_WatcherToldControlPlaneChanged()
    {
        await using var store = await DirectoryCacheTests.SeededStoreAsync();
        await using var watch = await store.WatchAsync(default);

        await store.TrySetShardStateAsync(AcmeA, ShardState.Active, ShardState.Retiring, default);

        var change = await watch.WaitAsync(default).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(change.ControlPlane);
    }

    [Fact]
    public async Task DeleteShardAsync_Active_RefusedAndShardAndPlacementsKept()
    {
        await using var store = await DirectoryCacheTests.SeededStoreAsync();
        await store.TryAddPlacementAsync("acme", "alice", "a", default);

        var deleted = await store.DeleteShardAsync(AcmeA, default);

        Assert.False(deleted);
        Assert.Equal(ShardState.Active, (await ShardAsync(store, AcmeA)).State);
        Assert.NotNull(await store.GetPlacementAsync("acme", "alice", default));
    }

    [Fact]
    public async Task DeleteShardAsync_Retiring_RemovesShardAndItsPlacementsOnly()
    {
        await using var store = await DirectoryCacheTests.SeededStoreAsync();
        await store.TryAddPlacementAsync("acme", "alice", "a", default);
        await store.TryAddPlacementAsync("acme", "bob", "a", default);
        await store.TryAddPlacementAsync("acme", "carol", "b", default);
        await store.TrySetShardStateAsync(AcmeA, ShardState.Active, ShardState.Retiring, default);
        await using var watch = await store.WatchAsync(default);

        var deleted = await store.DeleteShardAsync(AcmeA, default);

        Assert.True(deleted);
        var data = await store.LoadAsync(default);
        Assert.DoesNotContain(data.Shards, s => s.Key == AcmeA);
        Assert.Contains(data.Shards, s => s.Key == AcmeB);
        Assert.Null(await store.GetPlacementAsync("acme", "alice", default));
        Assert.Null(await store.GetPlacementAsync("acme", "bob", default));
        Assert.Equal("b", (await store.GetPlacementAsync("acme", "carol", default))?.HomeRegion);
        var index = new PlacementIndex();
        await store.LoadPlacementsAsync(index, default);
        Assert.Equal(1, index.Count);
        // Watchers drop the removed placements from their index without a reload.
        var change = await watch.WaitAsync(default).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(change.ControlPlane);
        Assert.Equal([new PlacementChange("acme", "alice", null), new PlacementChange("acme", "bob", null)], change.Placements.OrderBy(c => c.Username));
    }

    [Fact]
    public async Task DeleteShardAsync_Provisioning_Removed()
    {
        await using var store = await DirectoryCacheTests.SeededStoreAsync();
        var key = new ShardKey("zenith", "a");
        await store.CreateShardAsync(new Shard(key, "a", null, 1, ShardState.Provisioning, null, "geo_zenith_a"), default);

        var deleted = await store.DeleteShardAsync(key, default);

        Assert.True(deleted);
        Assert.DoesNotContain((await store.LoadAsync(default)).Shards, s => s.Key == key);
    }

    [Theory]
    [InlineData(ShardState.Promoting)]
    [InlineData(ShardState.Switching)]
    [InlineData(ShardState.Fenced)]
    public async Task DeleteShardAsync_InService_Refused(ShardState state)
    {
        await using var store = await DirectoryCacheTests.SeededStoreAsync();
        await store.TrySetShardStateAsync(AcmeA, ShardState.Active, state, default);

        Assert.False(await store.DeleteShardAsync(AcmeA, default));
        Assert.Equal(state, (await ShardAsync(store, AcmeA)).State);
    }

    [Fact]
    public async Task DeleteShardAsync_UnknownShard_False()
    {
        await using var store = await DirectoryCacheTests.SeededStoreAsync();

        Assert.False(await store.DeleteShardAsync(new ShardKey("acme", "zz"), default));
    }

    [Fact]
    public async Task DeleteTenantAsync_ShardLeft_RefusedAndTenantAndNasKept()
    {
        await using var store = await DirectoryCacheTests.SeededStoreAsync();
        await RetireAsync(store, AcmeA);

        var deleted = await store.DeleteTenantAsync("acme", default);

        Assert.False(deleted);
        var data = await store.LoadAsync(default);
        Assert.Contains(data.Tenants, t => t.Id == "acme");
        Assert.Equal(2, data.NasDevices.Count(n => n.TenantId == "acme"));
    }

    [Fact]
    public async Task DeleteTenantAsync_NoShardLeft_RemovesTenantWithItsNasOnly()
    {
        await using var store = await DirectoryCacheTests.SeededStoreAsync();
        await store.UpsertNasAsync(new NasDevice("zenith", "bng-z", IPAddress.Parse("10.0.0.9"), "b", null), default);
        await RetireAsync(store, AcmeA);
        await RetireAsync(store, AcmeB);

        var deleted = await store.DeleteTenantAsync("acme", default);

        Assert.True(deleted);
        var data = await store.LoadAsync(default);
        Assert.Equal(["zenith"], data.Tenants.Select(t => t.Id));
        Assert.Equal(["zenith/bng-z"], data.NasDevices.Select(n => $"{n.TenantId}/{n.Id}"));
    }

    [Fact]
    public async Task DeleteTenantAsync_Recreated_ApiKeyHashWentWithTheTenant()
    {
        await using var store = await DirectoryCacheTests.SeededStoreAsync();
        await store.SetTenantApiKeyHashAsync("acme", FirstHash, onlyIfUnset: false, default);
        await RetireAsync(store, AcmeA);
        await RetireAsync(store, AcmeB);
        await store.DeleteTenantAsync("acme", default);

        await store.UpsertTenantAsync(new Tenant("acme", "Acme again"), default);

        Assert.True(await store.SetTenantApiKeyHashAsync("acme", SecondHash, onlyIfUnset: true, default));
    }

    [Fact]
    public async Task DeleteTenantAsync_UnknownTenant_False()
    {
        await using var store = await DirectoryCacheTests.SeededStoreAsync();

        Assert.False(await store.DeleteTenantAsync("nobody", default));
    }

    [Fact]
    public async Task SetTenantApiKeyHashAsync_OnlyIfUnset_FirstSetThenKept_WithoutItReplaced()
    {
        await using var store = await DirectoryCacheTests.SeededStoreAsync();

        var first = await store.SetTenantApiKeyHashAsync("acme", FirstHash, onlyIfUnset: true, default);
        var kept = await store.SetTenantApiKeyHashAsync("acme", SecondHash, onlyIfUnset: true, default);
        var replaced = await store.SetTenantApiKeyHashAsync("acme", SecondHash, onlyIfUnset: false, default);
        var otherTenant = await store.SetTenantApiKeyHashAsync("zenith", SecondHash, onlyIfUnset: true, default);

        Assert.Equal((true, false, true, true), (first, kept, replaced, otherTenant));
    }

    [Fact]
    public async Task SetTenantApiKeyHashAsync_Set_InTheCachesSnapshotForThatTenantOnly()
    {
        await using var store = await DirectoryCacheTests.SeededStoreAsync();
        await using var cache = new DirectoryCache(store, NullLogger<DirectoryCache>.Instance);
        await cache.StartAsync(default);

        await store.SetTenantApiKeyHashAsync("acme", FirstHash, onlyIfUnset: false, default);
        await cache.RefreshAsync(default);

        Assert.True(cache.Current.TryGetTenantApiKeyHash("acme", out var hash));
        Assert.Equal(FirstHash, hash);
        Assert.False(cache.Current.TryGetTenantApiKeyHash("zenith", out _));
    }

    [Fact]
    public async Task SetTenantApiKeyHashAsync_UpsertTenantAfterwards_HashKept()
    {
        await using var store = await DirectoryCacheTests.SeededStoreAsync();
        await store.SetTenantApiKeyHashAsync("acme", FirstHash, onlyIfUnset: false, default);

        await store.UpsertTenantAsync(new Tenant("acme", "Acme renamed"), default);

        Assert.False(await store.SetTenantApiKeyHashAsync("acme", SecondHash, onlyIfUnset: true, default));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task SetTenantApiKeyHashAsync_UnknownTenant_False(bool onlyIfUnset)
    {
        await using var store = await DirectoryCacheTests.SeededStoreAsync();

        Assert.False(await store.SetTenantApiKeyHashAsync("nobody", FirstHash, onlyIfUnset, default));
        // Nothing was kept for the unknown id: a tenant created under it later has no key yet.
        await store.UpsertTenantAsync(new Tenant("nobody", "Nobody"), default);
        Assert.True(await store.SetTenantApiKeyHashAsync("nobody", SecondHash, onlyIfUnset: true, default));
    }

    private static async Task<Shard> ShardAsync(InMemoryDirectoryStore store, ShardKey key) =>
        (await store.LoadAsync(default)).Shards.Single(s => s.Key == key);

    private static async Task RetireAsync(InMemoryDirectoryStore store, ShardKey key)
    {
        Assert.True((await store.TrySetShardStateAsync(key, ShardState.Active, ShardState.Retiring, default)).Succeeded);
        Assert.True(await store.DeleteShardAsync(key, default));
    }
}
