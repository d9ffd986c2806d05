using System.Text.Json.Nodes;
using Geo.Directory.Placement;
using Geo.Directory.Recovery;
using Geo.Directory.Shards;
using Geo.Directory.Tenants;

namespace Geo.Directory.Tests;

/// <summary>
/// What every directory store does with owner leases and the DR event log, run against each store by a derived class:
/// in-memory and Consul (emulated) here, PostgreSQL in Geo.Directory.IntegrationTests, which compiles this file in.
/// The store a test gets holds regions a and b and tenant acme with shards acme@a (owner a) and acme@b (owner b), both
/// active at epoch 1.
/// </summary>
public abstract class DrStoreContract
{
    protected static readonly ShardKey AcmeA = new("acme", "a");
    protected static readonly ShardKey AcmeB = new("acme", "b");
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(4);
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    /// <summary>A fresh store with the directory described above.</summary>
    protected abstract Task<IDirectoryStore> CreateStoreAsync();

    /// <summary>The directory's clock, read apart from the store's lease operations.</summary>
    protected abstract Task<DateTimeOffset> DirectoryClockAsync();

    /// <summary>Moves the directory's clock on (a fake one is advanced; a database's moves by itself between statements).</summary>
    protected abstract void LetTimePass();

    [Fact]
    public async Task RenewOwnerLeasesAsync_OwnerAtCurrentEpoch_GrantedUntilDirectoryNowPlusTtl()
    {
        await using var store = await CreateStoreAsync();
        var before = await DirectoryClockAsync();

        var renewal = await RenewAsync(store, "a", (AcmeA, 1));

        var after = await DirectoryClockAsync();
        Assert.InRange(renewal.DirectoryNow, before, after);
        Assert.Equal([new OwnerLease(AcmeA, "a", 1, renewal.DirectoryNow + Ttl, renewal.DirectoryNow)], renewal.Granted);
        Assert.Equal(renewal.Granted, (await store.LoadOwnerLeasesAsync(default)).Leases);
    }

    [Fact]
    public async Task RenewOwnerLeasesAsync_Again_ExpiryExtended()
    {
        await using var store = await CreateStoreAsync();
        var first = Assert.Single((await RenewAsync(store, "a", (AcmeA, 1))).Granted);
        LetTimePass();

        var second = Assert.Single((await RenewAsync(store, "a", (AcmeA, 1))).Granted);

        Assert.True(second.ExpiresAt > first.ExpiresAt, $"{second.ExpiresAt:O} after {first.ExpiresAt:O}");
        Assert.Equal([second], (await store.LoadOwnerLeasesAsync(default)).Leases);
    }

    [Fact]
    public async Task RenewOwnerLeasesAsync_EpochMoved_RefusedAtTheOldEpochGrantedAtTheNew()
    {
        await using var store = await CreateStoreAsync();
        Assert.True((await store.TryUpdateShardAsync(AcmeA, 1, new ShardUpdate { State = ShardState.Active }, default)).Succeeded);

        var old = await RenewAsync(store, "a", (AcmeA, 1));
        var current = await RenewAsync(store, "a", (AcmeA, 2));

        Assert.Empty(old.Granted);
        var lease = Assert.Single(current.Granted);
        Assert.Equal((AcmeA, "a", 2L), (lease.Key, lease.Holder, lease.Epoch));
    }

    [Fact]
    public async Task TryUpdateShardAsync_StandbyAlone_KeepsTheEpochAndTheOwnersLease()
    {
        await using var store = await CreateStoreAsync();
        Assert.Single((await RenewAsync(store, "a", (AcmeA, 1))).Granted);

        var set = await store.TryUpdateShardAsync(AcmeA, 1, new ShardUpdate { ChangeStandby = true, StandbyRegion = "b" }, default);

        Assert.True(set.Succeeded, set.Outcome.ToString());
        Assert.Equal(("a", "b", 1L, ShardState.Active), (set.Current!.OwnerRegion, set.Current.StandbyRegion, set.Current.Epoch, set.Current.State));
        Assert.Single((await RenewAsync(store, "a", (AcmeA, 1))).Granted);
        Assert.Equal("b", (await store.LoadAsync(default)).Shards.Single(s => s.Key == AcmeA).StandbyRegion);
    }

    [Fact]
    public async Task TryUpdateShardAsync_StandbyWithAState_RaisesTheEpoch()
    {
        await using var store = await CreateStoreAsync();

        var set = await store.TryUpdateShardAsync(AcmeA, 1, new ShardUpdate { ChangeStandby = true, StandbyRegion = "b", State = ShardState.Switching }, default);
        var stale = await store.TryUpdateShardAsync(AcmeA, 1, new ShardUpdate { ChangeStandby = true, StandbyRegion = null }, default);

        Assert.Equal((2L, "b"), (set.Current!.Epoch, set.Current.StandbyRegion));
        Assert.Equal(ShardUpdateOutcome.EpochMismatch, stale.Outcome);
    }

    [Fact]
    public async Task RenewOwnerLeasesAsync_OwnerChanged_RefusedToTheOldOwnerGrantedToTheNew()
    {
        await using var store = await CreateStoreAsync();
        Assert.True((await store.TryUpdateShardAsync(AcmeA, 1, new ShardUpdate { OwnerRegion = "b" }, default)).Succeeded);

        var oldOwnerOldEpoch = await RenewAsync(store, "a", (AcmeA, 1));
        var oldOwnerNewEpoch = await RenewAsync(store, "a", (AcmeA, 2));
        var newOwner = await RenewAsync(store, "b", (AcmeA, 2));

        Assert.Empty(oldOwnerOldEpoch.Granted);
        Assert.Empty(oldOwnerNewEpoch.Granted);
        var lease = Assert.Single(newOwner.Granted);
        Assert.Equal(("b", 2L), (lease.Holder, lease.Epoch));
    }

    [Theory]
    [InlineData(ShardState.Promoting)]
    [InlineData(ShardState.Switching)]
    [InlineData(ShardState.Fenced)]
    public async Task RenewOwnerLeasesAsync_ShardChangingHands_RefusedAndLeaseKeptAsItWas(ShardState state)
    {
        await using var store = await CreateStoreAsync();

        // What a promotion waits out: the last lease granted before the change, not extended by a refused renewal.
        await AssertRenewalRefusedLeaseKeptAsync(store, "a",
            async () => Assert.True((await store.TrySetShardStateAsync(AcmeA, ShardState.Active, state, default)).Succeeded));
    }

    [Fact]
    public async Task RenewOwnerLeasesAsync_Provisioning_RefusedUntilActive()
    {
        await using var store = await CreateStoreAsync();
        var nova = new ShardKey("nova", "a");
        await store.UpsertTenantAsync(new Tenant("nova", "Nova"), default);
        await store.CreateShardAsync(new Shard(nova, "a", null, 1, ShardState.Provisioning, null, "geo_nova_a"), default);

        var provisioning = await RenewAsync(store, "a", (nova, 1));
        Assert.True((await store.TrySetShardStateAsync(nova, ShardState.Provisioning, ShardState.Active, default)).Succeeded);
        var active = await RenewAsync(store, "a", (nova, 1));

        Assert.Empty(provisioning.Granted);
        Assert.Equal(nova, Assert.Single(active.Granted).Key);
    }

    [Fact]
    public async Task RenewOwnerLeasesAsync_Retiring_Granted()
    {
        await using var store = await CreateStoreAsync();
        Assert.True((await store.TrySetShardStateAsync(AcmeA, ShardState.Active, ShardState.Retiring, default)).Succeeded);

        var renewal = await RenewAsync(store, "a", (AcmeA, 1));

        Assert.Equal(AcmeA, Assert.Single(renewal.Granted).Key);
    }

    [Fact]
    public async Task RenewOwnerLeasesAsync_AnotherRegionAsks_NothingGrantedAndTheOwnersLeaseKept()
    {
        await using var store = await CreateStoreAsync();

        await AssertRenewalRefusedLeaseKeptAsync(store, "b", () => Task.CompletedTask);
    }

    [Fact]
    public async Task RenewOwnerLeasesAsync_MixedList_OnlyTheMatchingShardsOnce()
    {
        await using var store = await CreateStoreAsync();

        var renewal = await RenewAsync(store, "a", (AcmeA, 1), (AcmeB, 1), (new ShardKey("acme", "zz"), 1), (AcmeA, 1), (AcmeA, 7));

        Assert.Equal([new OwnerLease(AcmeA, "a", 1, renewal.DirectoryNow + Ttl, renewal.DirectoryNow)], renewal.Granted);
    }

    [Fact]
    public async Task RenewOwnerLeasesAsync_NoShards_DirectoryNowOnly()
    {
        await using var store = await CreateStoreAsync();
        var before = await DirectoryClockAsync();

        var renewal = await RenewAsync(store, "a");

        Assert.Empty(renewal.Granted);
        Assert.InRange(renewal.DirectoryNow, before, await DirectoryClockAsync());
    }

    [Fact]
    public async Task RenewOwnerLeasesAsync_WatchOpen_NoChangeBeforeALaterPlacement()
    {
        await using var store = await CreateStoreAsync();
        await using var watch = await store.WatchAsync(default);

        // Everything the DR work writes every second or at every step: none of it may make processes reload.
        await RenewAsync(store, "a", (AcmeA, 1));
        await RenewAsync(store, "b", (AcmeB, 1));
        await store.ReleaseOwnerLeasesAsync("a", default);
        await store.AppendDrEventAsync(Event(AcmeA, "wait-lease", DrOutcomes.Started), default);
        // A later change that is not a control-plane change: it comes after any the writes above would have caused.
        await store.TryAddPlacementAsync("acme", "marker", "a", default);

        var first = await watch.WaitAsync(default).WaitAsync(Patience);
        Assert.False(first.ControlPlane, "owner leases and DR events must not make processes reload the control plane");
        Assert.Contains(new PlacementChange("acme", "marker", "a"), first.Placements);

        // The watch is alive: a real change of a shard is reported.
        await store.TrySetShardStateAsync(AcmeB, ShardState.Active, ShardState.Retiring, default);
        Assert.True((await watch.WaitAsync(default).WaitAsync(Patience)).ControlPlane);
    }

    [Fact]
    public async Task LoadOwnerLeasesAsync_TwoRegions_HoldersEpochsExpiriesByShardAndDirectoryNow()
    {
        await using var store = await CreateStoreAsync();
        var b = Assert.Single((await RenewAsync(store, "b", (AcmeB, 1))).Granted);
        LetTimePass();
        var a = Assert.Single((await RenewAsync(store, "a", (AcmeA, 1))).Granted);
        LetTimePass();
        var before = await DirectoryClockAsync();

        var view = await store.LoadOwnerLeasesAsync(default);

        Assert.Equal([a, b], view.Leases);
        Assert.Equal([("a", 1L), ("b", 1L)], view.Leases.Select(l => (l.Holder, l.Epoch)));
        Assert.InRange(view.DirectoryNow, before, await DirectoryClockAsync());
    }

    [Fact]
    public async Task ReleaseOwnerLeasesAsync_Region_ItsLeasesExpireNowOthersKept()
    {
        await using var store = await CreateStoreAsync();
        var a = Assert.Single((await RenewAsync(store, "a", (AcmeA, 1))).Granted);
        var b = Assert.Single((await RenewAsync(store, "b", (AcmeB, 1))).Granted);
        LetTimePass();
        var before = await DirectoryClockAsync();

        await store.ReleaseOwnerLeasesAsync("a", default);

        var after = await DirectoryClockAsync();
        var view = await store.LoadOwnerLeasesAsync(default);
        var released = view.Leases.Single(l => l.Key == AcmeA);
        Assert.Equal(a with { ExpiresAt = released.ExpiresAt }, released);
        Assert.InRange(released.ExpiresAt, before, after);
        Assert.True(released.ExpiresAt <= view.DirectoryNow, "a released lease has expired");
        Assert.Equal(b, view.Leases.Single(l => l.Key == AcmeB));
    }

    [Fact]
    public async Task DeleteShardAsync_Leased_LeaseGoesWithTheShard()
    {
        await using var store = await CreateStoreAsync();
        Assert.True((await store.TrySetShardStateAsync(AcmeA, ShardState.Active, ShardState.Retiring, default)).Succeeded);
        await RenewAsync(store, "a", (AcmeA, 1));
        var b = Assert.Single((await RenewAsync(store, "b", (AcmeB, 1))).Granted);

        Assert.True(await store.DeleteShardAsync(AcmeA, default));

        Assert.Equal([b], (await store.LoadOwnerLeasesAsync(default)).Leases);
    }

    [Fact]
    public async Task AppendDrEventAsync_Events_IdsIncreaseTimesFromTheDirectory()
    {
        await using var store = await CreateStoreAsync();
        var given = Event(AcmeA, "wait-lease", DrOutcomes.Started) with { Id = 999_999, At = new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero) };
        var before = await DirectoryClockAsync();

        var first = await store.AppendDrEventAsync(given, default);
        LetTimePass();
        var second = await store.AppendDrEventAsync(Event(AcmeA, "wait-lease", DrOutcomes.Done), default);

        var after = await DirectoryClockAsync();
        Assert.Equal(given with { Id = first.Id, At = first.At }, first);
        Assert.NotEqual(999_999, first.Id);
        Assert.InRange(first.At, before, after);
        Assert.True(second.Id > first.Id, $"id {second.Id} after {first.Id}");
        Assert.InRange(second.At, first.At, after);
        Assert.Equal([first, second], await store.ListDrEventsAsync(null, 10, default));
    }

    [Fact]
    public async Task ListDrEventsAsync_AllShards_NewestLimitOldestFirst()
    {
        await using var store = await CreateStoreAsync();
        var appended = await AppendStepsAsync(store, 5);

        Assert.Equal(appended.Skip(2), await store.ListDrEventsAsync(null, 3, default));
        Assert.Equal(appended, await store.ListDrEventsAsync(null, 100, default));
        Assert.Empty(await store.ListDrEventsAsync(null, 0, default));
    }

    [Fact]
    public async Task ListDrEventsAsync_OneShard_OnlyItsEvents()
    {
        await using var store = await CreateStoreAsync();
        var appended = await AppendStepsAsync(store, 5);
        var ofA = appended.Where(e => e.Shard == AcmeA).ToList();

        Assert.Equal(ofA, await store.ListDrEventsAsync(AcmeA, 10, default));
        Assert.Equal(ofA.Skip(1), await store.ListDrEventsAsync(AcmeA, 2, default));
        Assert.Empty(await store.ListDrEventsAsync(new ShardKey("zenith", "a"), 10, default));
    }

    [Fact]
    public async Task AppendDrEventAsync_DataOperatorElapsed_RoundTrip()
    {
        await using var store = await CreateStoreAsync();
        const string Data = """{"rpoMs": 1250.5, "source": {"lsn": "0/16B3748", "commitAt": null}, "tables": [1, 2, 3], "note": "é \"quoted\""}""";
        var full = await store.AppendDrEventAsync(Event(AcmeA, "estimate-rpo", DrOutcomes.Done) with
            { Operator = "ops-alice", DataJson = Data, ElapsedMs = 1234.567, Detail = "RPO about 1.3 s" }, default);
        var bare = await store.AppendDrEventAsync(Event(AcmeB, "flip-owner", DrOutcomes.Refused) with { Detail = "" }, default);

        var listed = await store.ListDrEventsAsync(null, 10, default);

        Assert.Equal(2, listed.Count);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(Data), JsonNode.Parse(listed[0].DataJson!)), listed[0].DataJson);
        Assert.Equal(full with { DataJson = null }, listed[0] with { DataJson = null });
        Assert.Equal(bare, listed[1]);
        Assert.Equal((null, null, null), (listed[1].Operator, listed[1].DataJson, listed[1].ElapsedMs));
    }

    [Theory]
    [InlineData("promote", "step", "ok", null)]
    [InlineData("Promote", "step", "done", null)]
    [InlineData("promote", "", "done", null)]
    [InlineData("promote", "step", "done", "{not json")]
    public async Task AppendDrEventAsync_OutsideTheRules_RefusedAndNothingWritten(string operation, string step, string outcome, string? data)
    {
        await using var store = await CreateStoreAsync();

        await Assert.ThrowsAsync<ArgumentException>(() =>
            store.AppendDrEventAsync(Event(AcmeA, step, outcome) with { Operation = operation, DataJson = data }, default));

        Assert.Empty(await store.ListDrEventsAsync(null, 10, default));
    }

    private static Task<OwnerLeaseRenewal> RenewAsync(IDirectoryStore store, string region, params (ShardKey Key, long Epoch)[] shards) =>
        store.RenewOwnerLeasesAsync(region, shards, Ttl, default);

    /// <summary>
    /// Region a takes acme@a's lease; after <paramref name="change"/> and some time, a renewal of it by
    /// <paramref name="region"/> at epoch 1 is refused and leaves the lease as it was.
    /// </summary>
    private async Task AssertRenewalRefusedLeaseKeptAsync(IDirectoryStore store, string region, Func<Task> change)
    {
        var held = Assert.Single((await RenewAsync(store, "a", (AcmeA, 1))).Granted);
        await change();
        LetTimePass();

        var renewal = await RenewAsync(store, region, (AcmeA, 1));

        Assert.Empty(renewal.Granted);
        Assert.Equal([held], (await store.LoadOwnerLeasesAsync(default)).Leases);
    }

    private static DrEvent Event(ShardKey shard, string step, string outcome) =>
        new(0, default, shard, DrOperations.Promote, step, outcome, $"{step} {outcome}", null, null, null);

    /// <summary>Appends <paramref name="count"/> events alternating between acme@a and acme@b; returns them as stored.</summary>
    private async Task<List<DrEvent>> AppendStepsAsync(IDirectoryStore store, int count)
    {
        var appended = new List<DrEvent>();
        for (var i = 0; i < count; i++)
        {
            appended.Add(await store.AppendDrEventAsync(Event(i % 2 == 0 ? AcmeA : AcmeB, $"step-{i}", DrOutcomes.Info) with { ElapsedMs = i }, default));
            LetTimePass();
        }

        return appended;
    }
}
