using System.Net;
using Geo.Directory.Nas;
using Geo.Directory.Placement;
using Geo.Directory.Shards;
using Geo.Directory.Stores.Postgres;
using Geo.Directory.Tenants;
using Geo.Testing;
using Npgsql;

namespace Geo.Directory.IntegrationTests;

public sealed class PostgresDirectoryStoreTests
{
    private static readonly ShardKey AcmeA = new("acme", "a");
    private static readonly ShardKey AcmeB = new("acme", "b");
    private static readonly byte[] FirstHash = [.. Enumerable.Repeat((byte)0x11, 32)];
    private static readonly byte[] SecondHash = [.. Enumerable.Repeat((byte)0x22, 32)];

    [Fact]
    public async Task LoadAsync_SeededDirectory_ReturnsEveryPart()
    {
        await using var store = new PostgresDirectoryStore(await DirectoryDatabase.CreateAsync());

        var data = await store.LoadAsync(default);

        Assert.Equal(["a", "b"], data.Regions.Select(r => r.Id));
        Assert.Equal(new Uri("http://127.0.0.1:1002"), data.Regions[1].ApiUrl);
        Assert.Equal(["acme@a", "acme@b"], data.Shards.Select(s => s.Key.ToString()));
        var nas = Assert.Single(data.NasDevices);
        Assert.Equal((IPAddress.Parse("127.0.10.1"), "a", "b"), (nas.Address, nas.PrimaryRegion, nas.BackupRegion));
    }

    [Fact]
    public async Task TryUpdateShardAsync_ExpectedEpoch_AppliedAndEpochRaised()
    {
        await using var store = new PostgresDirectoryStore(await DirectoryDatabase.CreateAsync());

        var result = await store.TryUpdateShardAsync(AcmeA, 1, new ShardUpdate { OwnerRegion = "b", State = ShardState.Promoting }, default);

        Assert.Equal(ShardUpdateOutcome.Updated, result.Outcome);
        Assert.Equal((2L, "b", ShardState.Promoting), (result.Current!.Epoch, result.Current.OwnerRegion, result.Current.State));
        Assert.Null(result.Current.StandbyRegion);
    }

    [Fact]
    public async Task TryUpdateShardAsync_StaleEpoch_RefusedWithCurrent()
    {
        await using var store = new PostgresDirectoryStore(await DirectoryDatabase.CreateAsync());
        await store.TryUpdateShardAsync(AcmeA, 1, new ShardUpdate { State = ShardState.Switching }, default);

        var result = await store.TryUpdateShardAsync(AcmeA, 1, new ShardUpdate { OwnerRegion = "b" }, default);

        Assert.Equal(ShardUpdateOutcome.EpochMismatch, result.Outcome);
        Assert.Equal((2L, "a"), (result.Current!.Epoch, result.Current.OwnerRegion));
    }

    [Fact]
    public async Task TryUpdateShardAsync_UnknownShard_NotFound()
    {
        await using var store = new PostgresDirectoryStore(await DirectoryDatabase.CreateAsync());

        var result = await store.TryUpdateShardAsync(new ShardKey("acme", "zz"), 1, new ShardUpdate { OwnerRegion = "b" }, default);

        Assert.Equal(ShardUpdateOutcome.NotFound, result.Outcome);
    }

    [Fact]
    public async Task TryUpdateShardAsync_ConcurrentAttemptsAtOneEpoch_ExactlyOneWinner()
    {
        var connectionString = await DirectoryDatabase.CreateAsync();
        const int Contenders = 16;
        var stores = Enumerable.Range(0, Contenders).Select(_ => new PostgresDirectoryStore(connectionString)).ToArray();
        try
        {
            // Every contender holds an open connection before the start line, so the UPDATEs really overlap.
            foreach (var store in stores)
            {
                await store.LoadAsync(default);
            }

            using var start = new Barrier(Contenders);
            var attempts = stores.Select((store, i) => Task.Run(async () =>
            {
                start.SignalAndWait();
                return await store.TryUpdateShardAsync(AcmeA, 1, new ShardUpdate { OwnerRegion = i % 2 == 0 ? "b" : "a", State = ShardState.Promoting }, default);
            })).ToArray();

            var results = await Task.WhenAll(attempts);

            Assert.Single(results, r => r.Outcome == ShardUpdateOutcome.Updated);
            Assert.Equal(Contenders - 1, results.Count(r => r.Outcome == ShardUpdateOutcome.EpochMismatch));
            Assert.All(results, r => Assert.Equal(2, r.Current!.Epoch));
            var final = (await stores[0].LoadAsync(default)).Shards.Single(s => s.Key == AcmeA);
            Assert.Equal(2, final.Epoch);
            Assert.Equal(results.Single(r => r.Succeeded).Current!.OwnerRegion, final.OwnerRegion);
        }
        finally
        {
            foreach (var store in stores)
            {
                await store.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task TryAcquireLeaseAsync_HeldByAnother_RefusedUntilReleased_EpochUnchanged()
    {
        await using var store = new PostgresDirectoryStore(await DirectoryDatabase.CreateAsync());

        var first = await store.TryAcquireLeaseAsync(AcmeA, "dr-1", TimeSpan.FromMinutes(1), default);
        var second = await store.TryAcquireLeaseAsync(AcmeA, "dr-2", TimeSpan.FromMinutes(1), default);
        var renewed = await store.TryAcquireLeaseAsync(AcmeA, "dr-1", TimeSpan.FromMinutes(1), default);
        var released = await store.ReleaseLeaseAsync(AcmeA, "dr-1", default);
        var third = await store.TryAcquireLeaseAsync(AcmeA, "dr-2", TimeSpan.FromMinutes(1), default);

        Assert.Equal(
            (ShardUpdateOutcome.Updated, ShardUpdateOutcome.LeaseHeld, ShardUpdateOutcome.Updated, true, ShardUpdateOutcome.Updated),
            (first.Outcome, second.Outcome, renewed.Outcome, released, third.Outcome));
        Assert.Equal("dr-1", second.Current!.Lease!.Holder);
        Assert.Equal("dr-2", third.Current!.Lease!.Holder);
        Assert.Equal(1, third.Current.Epoch);
    }

    [Fact]
    public async Task TryAcquireLeaseAsync_Expired_TakenOver()
    {
        await using var store = new PostgresDirectoryStore(await DirectoryDatabase.CreateAsync());
        await store.TryAcquireLeaseAsync(AcmeA, "dr-1", TimeSpan.FromMilliseconds(-1), default);

        var taken = await store.TryAcquireLeaseAsync(AcmeA, "dr-2", TimeSpan.FromMinutes(1), default);

        Assert.Equal(ShardUpdateOutcome.Updated, taken.Outcome);
        Assert.Equal("dr-2", taken.Current!.Lease!.Holder);
    }

    [Fact]
    public async Task TryAddPlacementAsync_NewThenOtherRegion_ExistingWins()
    {
        await using var store = new PostgresDirectoryStore(await DirectoryDatabase.CreateAsync());

        var first = await store.TryAddPlacementAsync("acme", "alice", "a", default);
        var second = await store.TryAddPlacementAsync("acme", "alice", "b", default);

        Assert.True(first.Created);
        Assert.False(second.Created);
        Assert.Equal("a", second.Placement.HomeRegion);
        Assert.Equal(first.Placement.CreatedAt, second.Placement.CreatedAt);
    }

    [Fact]
    public async Task TryAddPlacementAsync_ConcurrentSameUsername_ExactlyOneCreated()
    {
        var connectionString = await DirectoryDatabase.CreateAsync();
        await using var store = new PostgresDirectoryStore(connectionString);

        var writes = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => store.TryAddPlacementAsync("acme", "bob", i % 2 == 0 ? "a" : "b", default)));

        Assert.Single(writes, w => w.Created);
        Assert.Single(writes.Select(w => w.Placement.HomeRegion).Distinct());
    }

    [Fact]
    public async Task TryAddPlacementAsync_ShardMissing_RefusedByForeignKey()
    {
        await using var store = new PostgresDirectoryStore(await DirectoryDatabase.CreateAsync());

        await Assert.ThrowsAsync<PostgresException>(() => store.TryAddPlacementAsync("acme", "carol", "zz", default));
    }

    [Fact]
    public async Task DeletePlacementAsync_CreatedAtGuard_OnlyTheCheckedOneRemoved()
    {
        await using var store = new PostgresDirectoryStore(await DirectoryDatabase.CreateAsync());
        var write = await store.TryAddPlacementAsync("acme", "dave", "a", default);

        var wrongTime = await store.DeletePlacementAsync("acme", "dave", write.Placement.CreatedAt.AddSeconds(-1), default);
        var rightTime = await store.DeletePlacementAsync("acme", "dave", write.Placement.CreatedAt, default);

        Assert.False(wrongTime);
        Assert.True(rightTime);
        Assert.Null(await store.GetPlacementAsync("acme", "dave", default));
    }

    [Fact]
    public async Task LoadPlacementsAsync_ManyRows_AllInIndex()
    {
        var connectionString = await DirectoryDatabase.CreateAsync();
        await using (var connection = new NpgsqlConnection(connectionString))
        {
            await connection.OpenAsync();
            await using var insert = new NpgsqlCommand("""
                INSERT INTO subscriber_placements (tenant_id, username, home_region)
                SELECT 'acme', 'user' || i, CASE WHEN i % 2 = 0 THEN 'a' ELSE 'b' END FROM generate_series(1, 20000) AS i
                """, connection);
            await insert.ExecuteNonQueryAsync();
        }

        await using var store = new PostgresDirectoryStore(connectionString);
        var index = new PlacementIndex();

        await store.LoadPlacementsAsync(index, default);

        Assert.Equal(20_000, index.Count);
        Assert.True(index.TryGetHomeRegion("acme", "user1234", out var even));
        Assert.True(index.TryGetHomeRegion("acme", "user1235", out var odd));
        Assert.Equal(("a", "b"), (even, odd));
    }

    [Fact]
    public async Task ListPlacementsCreatedBetweenAsync_Pages_EveryPlacementOnce()
    {
        var connectionString = await DirectoryDatabase.CreateAsync();
        await using (var connection = new NpgsqlConnection(connectionString))
        {
            await connection.OpenAsync();
            // Equal created_at values within each group: paging must still not skip or repeat one.
            await using var insert = new NpgsqlCommand("""
                INSERT INTO subscriber_placements (tenant_id, username, home_region, created_at)
                SELECT 'acme', 'p' || i, 'a', timestamptz '2025-01-01 00:00:00+00' + (i / 4) * interval '1 second' FROM generate_series(1, 23) AS i
                """, connection);
            await insert.ExecuteNonQueryAsync();
        }

        await using var store = new PostgresDirectoryStore(connectionString);
        var seen = new List<string>();
        SubscriberPlacement? after = null;
        while (true)
        {
            var page = await store.ListPlacementsCreatedBetweenAsync(
                new DateTimeOffset(2024, 12, 31, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2025, 1, 2, 0, 0, 0, TimeSpan.Zero), after, 5, default);
            if (page.Count == 0)
            {
                break;
            }

            seen.AddRange(page.Select(p => p.Username));
            after = page[^1];
        }

        Assert.Equal(23, seen.Count);
        Assert.Equal(23, seen.Distinct().Count());
    }

    [Fact]
    public async Task TrySetShardStateAsync_ExpectedState_OnlyStateChanges()
    {
        await using var store = new PostgresDirectoryStore(await DirectoryDatabase.CreateAsync());
        // Epoch 3 and a lease, so that a reset or a raise of the epoch, or a lost lease, would show.
        await store.TryUpdateShardAsync(AcmeA, 1, new ShardUpdate { State = ShardState.Switching }, default);
        await store.TryUpdateShardAsync(AcmeA, 2, new ShardUpdate { OwnerRegion = "b", State = ShardState.Active }, default);
        await store.TryAcquireLeaseAsync(AcmeA, "dr-1", TimeSpan.FromMinutes(5), default);
        var before = await ShardAsync(store, AcmeA);

        var result = await store.TrySetShardStateAsync(AcmeA, ShardState.Active, ShardState.Retiring, default);

        Assert.Equal(ShardUpdateOutcome.Updated, result.Outcome);
        Assert.Equal(before with { State = ShardState.Retiring }, result.Current);
        Assert.Equal(before with { State = ShardState.Retiring }, await ShardAsync(store, AcmeA));
        Assert.Equal((3L, "b"), (result.Current!.Epoch, result.Current.OwnerRegion));
    }

    [Fact]
    public async Task TrySetShardStateAsync_OtherState_StateMismatchWithCurrentAndNoChange()
    {
        await using var store = new PostgresDirectoryStore(await DirectoryDatabase.CreateAsync());
        var before = await ShardAsync(store, AcmeA);

        var result = await store.TrySetShardStateAsync(AcmeA, ShardState.Provisioning, ShardState.Active, default);

        Assert.Equal(ShardUpdateOutcome.StateMismatch, result.Outcome);
        Assert.Equal(before, result.Current);
        Assert.Equal(before, await ShardAsync(store, AcmeA));
    }

    [Fact]
    public async Task TrySetShardStateAsync_UnknownShard_NotFound()
    {
        await using var store = new PostgresDirectoryStore(await DirectoryDatabase.CreateAsync());

        var result = await store.TrySetShardStateAsync(new ShardKey("acme", "zz"), ShardState.Active, ShardState.Retiring, default);

        Assert.Equal(ShardUpdateOutcome.NotFound, result.Outcome);
        Assert.Null(result.Current);
    }

    [Fact]
    public async Task TrySetShardStateAsync_Applied_WatcherToldControlPlaneChanged()
    {
        var connectionString = await DirectoryDatabase.CreateAsync();
        await using var watcher = new PostgresDirectoryStore(connectionString);
        await using var watch = await watcher.WatchAsync(default);
        await using var writer = new PostgresDirectoryStore(connectionString);

        await writer.TrySetShardStateAsync(AcmeA, ShardState.Active, ShardState.Retiring, default);

        var change = await watch.WaitAsync(default).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(change.ControlPlane);
        Assert.Equal(ShardState.Retiring, (await ShardAsync(watcher, AcmeA)).State);
    }

    [Fact]
    public async Task DeleteShardAsync_Active_RefusedAndShardAndPlacementsKept()
    {
        var connectionString = await DirectoryDatabase.CreateAsync();
        await using var store = new PostgresDirectoryStore(connectionString);
        await store.TryAddPlacementAsync("acme", "alice", "a", default);

        var deleted = await store.DeleteShardAsync(AcmeA, default);

        Assert.False(deleted);
        Assert.Equal(ShardState.Active, (await ShardAsync(store, AcmeA)).State);
        Assert.NotNull(await store.GetPlacementAsync("acme", "alice", default));
    }

    [Fact]
    public async Task DeleteShardAsync_Retiring_RemovesShardAndItsPlacementsOnly()
    {
        var connectionString = await DirectoryDatabase.CreateAsync();
        await using var store = new PostgresDirectoryStore(connectionString);
        await store.TryAddPlacementAsync("acme", "alice", "a", default);
        await store.TryAddPlacementAsync("acme", "bob", "a", default);
        await store.TryAddPlacementAsync("acme", "carol", "b", default);
        await store.TrySetShardStateAsync(AcmeA, ShardState.Active, ShardState.Retiring, default);

        var deleted = await store.DeleteShardAsync(AcmeA, default);

        Assert.True(deleted);
        Assert.Equal(["acme@b"], (await store.LoadAsync(default)).Shards.Select(s => s.Key.ToString()));
        Assert.Equal(["carol"], await Sql.QueryAsync<string>(connectionString, "SELECT username FROM subscriber_placements ORDER BY username"));
    }

    [Fact]
    public async Task DeleteShardAsync_Provisioning_Removed()
    {
        await using var store = new PostgresDirectoryStore(await DirectoryDatabase.CreateAsync());
        await store.UpsertTenantAsync(new Tenant("zenith", "Zenith"), default);
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
        await using var store = new PostgresDirectoryStore(await DirectoryDatabase.CreateAsync());
        await store.TrySetShardStateAsync(AcmeA, ShardState.Active, state, default);

        Assert.False(await store.DeleteShardAsync(AcmeA, default));
        Assert.Equal(state, (await ShardAsync(store, AcmeA)).State);
    }

    [Fact]
    public async Task DeleteShardAsync_UnknownShard_False()
    {
        await using var store = new PostgresDirectoryStore(await DirectoryDatabase.CreateAsync());

        Assert.False(await store.DeleteShardAsync(new ShardKey("acme", "zz"), default));
    }

    [Fact]
    public async Task DeleteShardAsync_PlacementInsertInFlight_WaitsAndRemovesItToo()
    {
        var connectionString = await DirectoryDatabase.CreateAsync();
        await using var store = new PostgresDirectoryStore(connectionString);
        await store.TrySetShardStateAsync(AcmeA, ShardState.Active, ShardState.Retiring, default);
        await using var creator = new NpgsqlConnection(connectionString);
        await creator.OpenAsync();
        await using var creation = await creator.BeginTransactionAsync();
        await using (var insert = new NpgsqlCommand("INSERT INTO subscriber_placements (tenant_id, username, home_region) VALUES ('acme', 'late', 'a')", creator, creation))
        {
            await insert.ExecuteNonQueryAsync();
        }

        // The subscriber create commits only once the removal waits on it: the removal must take its placement along.
        var deleting = store.DeleteShardAsync(AcmeA, default);
        await WaitForLockWaitAsync(connectionString, deleting);
        await creation.CommitAsync();

        Assert.True(await deleting.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Empty(await Sql.QueryAsync<string>(connectionString, "SELECT username FROM subscriber_placements"));
        Assert.DoesNotContain((await store.LoadAsync(default)).Shards, s => s.Key == AcmeA);
    }

    [Fact]
    public async Task DeleteTenantAsync_ShardLeft_RefusedAndTenantAndNasKept()
    {
        var connectionString = await DirectoryDatabase.CreateAsync();
        await using var store = new PostgresDirectoryStore(connectionString);
        await RetireAsync(store, AcmeA);

        var deleted = await store.DeleteTenantAsync("acme", default);

        Assert.False(deleted);
        Assert.Contains((await store.LoadAsync(default)).Tenants, t => t.Id == "acme");
        Assert.Equal(["bng-a"], await Sql.QueryAsync<string>(connectionString, "SELECT id FROM nas_devices WHERE tenant_id = 'acme'"));
    }

    [Fact]
    public async Task DeleteTenantAsync_NoShardLeft_RemovesTenantWithItsNasRowsOnly()
    {
        var connectionString = await DirectoryDatabase.CreateAsync();
        await using var store = new PostgresDirectoryStore(connectionString);
        await store.UpsertNasAsync(new NasDevice("acme", "bng-b", IPAddress.Parse("127.0.10.2"), "b", "a"), default);
        await store.UpsertTenantAsync(new Tenant("zenith", "Zenith"), default);
        await store.UpsertNasAsync(new NasDevice("zenith", "bng-z", IPAddress.Parse("127.0.10.9"), "b", null), default);
        await store.SetTenantApiKeyHashAsync("acme", FirstHash, onlyIfUnset: false, default);
        await RetireAsync(store, AcmeA);
        await RetireAsync(store, AcmeB);

        var deleted = await store.DeleteTenantAsync("acme", default);

        Assert.True(deleted);
        Assert.Equal(["zenith"], await Sql.QueryAsync<string>(connectionString, "SELECT id FROM tenants"));
        Assert.Equal(["zenith/bng-z"], await Sql.QueryAsync<string>(connectionString, "SELECT tenant_id || '/' || id FROM nas_devices"));
    }

    [Fact]
    public async Task DeleteTenantAsync_UnknownTenant_False()
    {
        await using var store = new PostgresDirectoryStore(await DirectoryDatabase.CreateAsync());

        Assert.False(await store.DeleteTenantAsync("nobody", default));
    }

    [Fact]
    public async Task DeleteTenantAsync_ShardCreationInFlight_WaitsAndRefuses()
    {
        var connectionString = await DirectoryDatabase.CreateAsync();
        await using var store = new PostgresDirectoryStore(connectionString);
        await store.UpsertTenantAsync(new Tenant("zenith", "Zenith"), default);
        await store.UpsertNasAsync(new NasDevice("zenith", "bng-z", IPAddress.Parse("127.0.10.9"), "b", null), default);
        await using var creator = new NpgsqlConnection(connectionString);
        await creator.OpenAsync();
        await using var creation = await creator.BeginTransactionAsync();
        await using (var insert = new NpgsqlCommand(
            "INSERT INTO shards (tenant_id, home_region, owner_region, state, database_name) VALUES ('zenith', 'b', 'b', 'provisioning', 'geo_zenith_b')",
            creator, creation))
        {
            await insert.ExecuteNonQueryAsync();
        }

        // The shard commits only once the removal waits on it: the tenant then has a shard and must stay, NAS included.
        var deleting = store.DeleteTenantAsync("zenith", default);
        await WaitForLockWaitAsync(connectionString, deleting);
        await creation.CommitAsync();

        Assert.False(await deleting.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Contains((await store.LoadAsync(default)).Tenants, t => t.Id == "zenith");
        Assert.Equal(["bng-z"], await Sql.QueryAsync<string>(connectionString, "SELECT id FROM nas_devices WHERE tenant_id = 'zenith'"));
    }

    [Fact]
    public async Task SetTenantApiKeyHashAsync_OnlyIfUnset_FirstSetThenKept_WithoutItReplaced()
    {
        var connectionString = await DirectoryDatabase.CreateAsync();
        await using var store = new PostgresDirectoryStore(connectionString);

        var first = await store.SetTenantApiKeyHashAsync("acme", FirstHash, onlyIfUnset: true, default);
        var afterFirst = await ApiKeyHashAsync(connectionString, "acme");
        var kept = await store.SetTenantApiKeyHashAsync("acme", SecondHash, onlyIfUnset: true, default);
        var afterKept = await ApiKeyHashAsync(connectionString, "acme");
        var replaced = await store.SetTenantApiKeyHashAsync("acme", SecondHash, onlyIfUnset: false, default);

        Assert.Equal((true, false, true), (first, kept, replaced));
        Assert.Equal(FirstHash, afterFirst);
        Assert.Equal(FirstHash, afterKept);
        Assert.Equal(SecondHash, await ApiKeyHashAsync(connectionString, "acme"));
    }

    [Fact]
    public async Task LoadAsync_KeyIssuedToOneTenant_OnlyItsHashLoaded()
    {
        var connectionString = await DirectoryDatabase.CreateAsync();
        await using var store = new PostgresDirectoryStore(connectionString);
        await store.UpsertTenantAsync(new Tenant("zenith", "Zenith"), default);
        await store.SetTenantApiKeyHashAsync("acme", FirstHash, onlyIfUnset: false, default);

        var data = await store.LoadAsync(default);

        Assert.Equal(["acme"], data.TenantApiKeyHashes.Keys);
        Assert.Equal(FirstHash, data.TenantApiKeyHashes["acme"]);
    }

    [Fact]
    public async Task SetTenantApiKeyHashAsync_UpsertTenantAfterwards_HashKept()
    {
        var connectionString = await DirectoryDatabase.CreateAsync();
        await using var store = new PostgresDirectoryStore(connectionString);
        await store.SetTenantApiKeyHashAsync("acme", FirstHash, onlyIfUnset: false, default);

        await store.UpsertTenantAsync(new Tenant("acme", "Acme renamed"), default);

        Assert.Equal(FirstHash, await ApiKeyHashAsync(connectionString, "acme"));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task SetTenantApiKeyHashAsync_UnknownTenant_False(bool onlyIfUnset)
    {
        var connectionString = await DirectoryDatabase.CreateAsync();
        await using var store = new PostgresDirectoryStore(connectionString);

        Assert.False(await store.SetTenantApiKeyHashAsync("nobody", FirstHash, onlyIfUnset, default));
        Assert.Equal(["acme"], await Sql.QueryAsync<string>(connectionString, "SELECT id FROM tenants"));
    }

    private static async Task<Shard> ShardAsync(PostgresDirectoryStore store, ShardKey key) =>
        (await store.LoadAsync(default)).Shards.Single(s => s.Key == key);

    private static async Task RetireAsync(PostgresDirectoryStore store, ShardKey key)
    {
        Assert.True((await store.TrySetShardStateAsync(key, ShardState.Active, ShardState.Retiring, default)).Succeeded);
        Assert.True(await store.DeleteShardAsync(key, default));
    }

    private static Task<byte[]?> ApiKeyHashAsync(string connectionString, string tenantId) =>
        Sql.ScalarAsync<byte[]>(connectionString, "SELECT api_key_hash FROM tenants WHERE id = $1", tenantId);

    /// <summary>Waits until a session of the database waits on a lock (the operation under test blocked on an open transaction).</summary>
    private static Task WaitForLockWaitAsync(string connectionString, Task operation) =>
        // Finished without waiting (or failed): nothing to wait for; the test's assertions say whether that was right.
        Eventually.TrueAsync(async () => operation.IsCompleted || await Sql.ScalarAsync<long>(connectionString,
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'") > 0,
            TimeSpan.FromSeconds(10), "the operation waits on the open transaction");
}
