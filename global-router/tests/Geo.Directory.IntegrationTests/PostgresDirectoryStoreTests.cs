using System.Net;
using Geo.Directory.Placement;
using Geo.Directory.Shards;
using Geo.Directory.Stores.Postgres;
using Npgsql;

namespace Geo.Directory.IntegrationTests;

public sealed class PostgresDirectoryStoreTests
{
    private static readonly ShardKey AcmeA = new("acme", "a");

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
}
