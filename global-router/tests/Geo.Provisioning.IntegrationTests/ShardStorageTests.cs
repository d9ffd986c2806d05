using Geo.Replication.PgOutput;
using Geo.Schema;
using Geo.Testing;

namespace Geo.Provisioning.IntegrationTests;

public sealed class ShardStorageTests
{
    [Fact]
    public async Task EnsureDatabaseAsync_Twice_CreatedOnceThenFound()
    {
        await using var platform = await Platform.CreateAsync();
        var storage = Storage(platform);
        var database = ShardDatabase.Name(platform.TenantId, "b");

        var first = await storage.EnsureDatabaseAsync("b", database, default);
        var second = await storage.EnsureDatabaseAsync("b", database, default);

        Assert.Equal((true, false), (first, second));
        Assert.True(await storage.DatabaseExistsAsync("b", database, default));
        Assert.False(await storage.DatabaseExistsAsync("a", database, default));
    }

    [Fact]
    public async Task CountSubscribersAsync_MissingThenUnmigratedThenMigrated_NullNullCount()
    {
        await using var platform = await Platform.CreateAsync();
        var storage = Storage(platform);
        var database = ShardDatabase.Name(platform.TenantId, "a");

        var missing = await storage.CountSubscribersAsync("a", database, default);
        await storage.EnsureDatabaseAsync("a", database, default);
        var unmigrated = await storage.CountSubscribersAsync("a", database, default);
        await storage.MigrateAndFenceAsync("a", database, platform.TenantId, "a", default);
        var migrated = await storage.CountSubscribersAsync("a", database, default);

        Assert.Equal((null, null, 0L), (missing, unmigrated, migrated));
    }

    [Fact]
    public async Task MigrateAndFenceAsync_Twice_SecondAppliesNothingAndKeepsTheFence()
    {
        await using var platform = await Platform.CreateAsync();
        var storage = Storage(platform);
        var database = ShardDatabase.Name(platform.TenantId, "a");
        await storage.EnsureDatabaseAsync("a", database, default);

        var first = await storage.MigrateAndFenceAsync("a", database, platform.TenantId, "a", default);
        await Sql.ScalarAsync<object>(platform.Shard("a"), "UPDATE shard_fence SET epoch = 5");
        var second = await storage.MigrateAndFenceAsync("a", database, platform.TenantId, "a", default);

        Assert.NotEmpty(first.Applied);
        Assert.Empty(second.Applied);
        Assert.Equal(5L, await Sql.ScalarAsync<long>(platform.Shard("a"), "SELECT epoch FROM shard_fence"));
    }

    [Fact]
    public async Task WaitForReplicationAsync_NoSlot_TimesOutSayingSo()
    {
        await using var platform = await Platform.CreateAsync();
        var storage = Storage(platform);
        var database = await MigratedAsync(platform, storage);

        var timedOut = await Assert.ThrowsAsync<ProvisioningException>(() => storage.WaitForReplicationAsync("a", "b", database, TimeSpan.Zero, default));

        Assert.Contains($"no slot {ReplicationSlots.DefaultSlotName(database, "b")} on the source yet", timedOut.Message, StringComparison.Ordinal);
        Assert.Contains("Run the command again to resume", timedOut.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WaitForReplicationAsync_SlotNobodyHolds_TimesOutSayingSo()
    {
        await using var platform = await Platform.CreateAsync();
        var storage = Storage(platform);
        var database = await MigratedAsync(platform, storage);
        var slot = await CreateSlotAsync(platform, database);

        var timedOut = await Assert.ThrowsAsync<ProvisioningException>(() => storage.WaitForReplicationAsync("a", "b", database, TimeSpan.Zero, default));

        Assert.Contains($"slot {slot} exists but no replicator holds it", timedOut.Message, StringComparison.Ordinal);
        await storage.DropSourceAsync("a", database, default);
    }

    [Fact]
    public async Task DropSourceAsync_DatabaseWithSlot_SlotAndDatabaseGone()
    {
        await using var platform = await Platform.CreateAsync();
        var storage = Storage(platform);
        var database = await MigratedAsync(platform, storage);
        var slot = await CreateSlotAsync(platform, database);
        Assert.True(await storage.WaitForSlotsReleasedAsync("a", database, TimeSpan.Zero, default), "an idle slot counts as released");

        var dropped = await storage.DropSourceAsync("a", database, default);

        Assert.Equal([slot], dropped);
        Assert.False(await storage.DatabaseExistsAsync("a", database, default));
        Assert.Equal(0L, await Sql.ScalarAsync<long>(platform.Databases.Maintenance("a"), "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", slot));
        Assert.Empty(await storage.DropSourceAsync("a", database, default));
    }

    [Fact]
    public async Task DropDatabaseAsync_Missing_FalseAndNothingHappens()
    {
        await using var platform = await Platform.CreateAsync();

        Assert.False(await Storage(platform).DropDatabaseAsync("b", ShardDatabase.Name(platform.TenantId, "b"), default));
    }

    private static ShardStorage Storage(Platform platform) => new(platform.Databases, TimeProvider.System);

    private static async Task<string> MigratedAsync(Platform platform, ShardStorage storage)
    {
        var database = ShardDatabase.Name(platform.TenantId, "a");
        await storage.EnsureDatabaseAsync("a", database, default);
        await storage.MigrateAndFenceAsync("a", database, platform.TenantId, "a", default);
        return database;
    }

    /// <summary>The slot a standby's replicator would create, created here with nobody streaming from it.</summary>
    private static async Task<string> CreateSlotAsync(Platform platform, string database)
    {
        var slot = ReplicationSlots.DefaultSlotName(database, "b");
        await Sql.ScalarAsync<string>(platform.Shard("a"), "SELECT slot_name::text FROM pg_create_logical_replication_slot($1, 'pgoutput')", slot);
        return slot;
    }
}
