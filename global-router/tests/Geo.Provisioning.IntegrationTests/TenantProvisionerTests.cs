using Geo.Directory.Shards;
using Geo.Testing;

namespace Geo.Provisioning.IntegrationTests;

public sealed class TenantProvisionerTests
{
    private static readonly ShardPlan HomeA = new("a", null);
    private static readonly ShardPlan HomeB = new("b", null);

    [Fact]
    public async Task CreateAsync_TwoHomes_DatabasesMigratedAndFencedShardsActiveKeyIssued()
    {
        await using var platform = await Platform.CreateAsync();
        var tenant = platform.TenantId;

        var created = await platform.Tenants().CreateAsync(tenant, "Nova Broadband", [HomeA, HomeB], default);

        foreach (var home in new[] { "a", "b" })
        {
            Assert.True(await platform.ShardDatabaseExistsAsync(home), $"no shard database in region {home}");
            Assert.Equal($"{tenant}/{home}/{home}/1", await Sql.ScalarAsync<string>(platform.Shard(home),
                "SELECT tenant_id || '/' || home_region || '/' || owner_region || '/' || epoch FROM shard_fence"));
            Assert.Equal(0L, await Sql.ScalarAsync<long>(platform.Shard(home), "SELECT count(*) FROM subscribers"));
        }

        var data = await platform.Directory.LoadAsync(default);
        Assert.Equal("Nova Broadband", Assert.Single(data.Tenants, t => t.Id == tenant).DisplayName);
        Assert.Equal([$"{tenant}@a active 1", $"{tenant}@b active 1"],
            data.Shards.Where(s => s.Key.TenantId == tenant).Select(s => $"{s.Key} {ShardStates.ToText(s.State)} {s.Epoch}").Order(StringComparer.Ordinal));
        Assert.NotNull(created.ApiKey);
        Assert.Equal(TenantApiKeys.Hash(created.ApiKey), await ApiKeyHashAsync(platform));
    }

    [Fact]
    public async Task CreateAsync_SameHomesAgain_NothingChangesAndKeyNotReissued()
    {
        await using var platform = await Platform.CreateAsync();
        var first = await platform.Tenants().CreateAsync(platform.TenantId, "Nova", [HomeA], default);

        var again = await platform.Tenants().CreateAsync(platform.TenantId, "Nova", [HomeA], default);

        Assert.Null(again.ApiKey);
        Assert.Contains("issued earlier", again.ApiKeyNote, StringComparison.Ordinal);
        Assert.Equal(first.Shards, again.Shards);
        Assert.Equal(TenantApiKeys.Hash(first.ApiKey!), await ApiKeyHashAsync(platform));
    }

    [Fact]
    public async Task CreateAsync_OtherHomesThanExisting_RefusedWithHint()
    {
        await using var platform = await Platform.CreateAsync();
        await platform.Tenants().CreateAsync(platform.TenantId, "Nova", [HomeA], default);

        var refused = await Assert.ThrowsAsync<ProvisioningException>(() => platform.Tenants().CreateAsync(platform.TenantId, "Nova", [HomeB], default));

        Assert.Contains("add-region", refused.Message, StringComparison.Ordinal);
        Assert.False(await platform.ShardDatabaseExistsAsync("b"));
    }

    [Fact]
    public async Task CreateAsync_InterruptedBeforeMigrations_RunAgainFinishesWithTheKeptKey()
    {
        await using var platform = await Platform.CreateAsync();
        var keys = new MemoryKeyStore();
        var interrupted = new FailingProgress("migrations and fence");

        await Assert.ThrowsAsync<InvalidOperationException>(() => platform.Tenants(interrupted, keys: keys).CreateAsync(platform.TenantId, "Nova", [HomeA], default));

        // Left half-done: the database exists unmigrated, the shard is provisioning (invisible to RADIUS and the API).
        Assert.True(await platform.ShardDatabaseExistsAsync("a"));
        Assert.Equal(0L, await Sql.ScalarAsync<long>(platform.Shard("a"), "SELECT count(*) FROM pg_tables WHERE tablename = 'subscribers'"));
        Assert.Equal(ShardState.Provisioning, (await ShardAsync(platform, "a"))!.State);

        var resumed = await platform.Tenants(keys: keys).CreateAsync(platform.TenantId, "Nova", [HomeA], default);

        Assert.Equal(ShardState.Active, Assert.Single(resumed.Shards).State);
        Assert.Equal(1L, await Sql.ScalarAsync<long>(platform.Shard("a"), "SELECT epoch FROM shard_fence"));
        Assert.Equal(await keys.FindAsync(platform.TenantId, default), resumed.ApiKey);
        Assert.Contains(platform.Progress.Lines, l => l.EndsWith(": exists", StringComparison.Ordinal) && l.Contains("database", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AbortAsync_InterruptedCreation_RemovesDatabasesShardsAndTenant()
    {
        await using var platform = await Platform.CreateAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(() =>
            platform.Tenants(new FailingProgress("migrations and fence")).CreateAsync(platform.TenantId, "Nova", [HomeA, HomeB], default));
        Assert.True(await platform.ShardDatabaseExistsAsync("a"));

        var removed = await platform.Tenants().AbortAsync(platform.TenantId, removeTenant: true, default);

        Assert.Equal(2, removed);
        Assert.False(await platform.ShardDatabaseExistsAsync("a"));
        Assert.False(await platform.ShardDatabaseExistsAsync("b"));
        var data = await platform.Directory.LoadAsync(default);
        Assert.DoesNotContain(data.Shards, s => s.Key.TenantId == platform.TenantId);
        Assert.DoesNotContain(data.Tenants, t => t.Id == platform.TenantId);
    }

    [Fact]
    public async Task AbortAsync_TenantInService_RefusedAndNothingRemoved()
    {
        await using var platform = await Platform.CreateAsync();
        await platform.Tenants().CreateAsync(platform.TenantId, "Nova", [HomeA], default);

        var refused = await Assert.ThrowsAsync<ProvisioningException>(() => platform.Tenants().AbortAsync(platform.TenantId, removeTenant: true, default));

        Assert.Contains("no unfinished creation", refused.Message, StringComparison.Ordinal);
        Assert.True(await platform.ShardDatabaseExistsAsync("a"));
        Assert.Equal(ShardState.Active, (await ShardAsync(platform, "a"))!.State);
    }

    [Fact]
    public async Task CreateAsync_StandbyNeverStreams_TimesOutProvisioningThenAbortRemovesIt()
    {
        await using var platform = await Platform.CreateAsync();
        // No replicator runs here: the wait for the standby gives up at once and says what it saw.
        var options = new ProvisioningOptions { ReplicationTimeout = TimeSpan.Zero, ReleaseTimeout = TimeSpan.Zero };

        var timedOut = await Assert.ThrowsAsync<ProvisioningException>(() =>
            platform.Tenants(options: options).CreateAsync(platform.TenantId, "Nova", [new ShardPlan("a", "b")], default));

        Assert.Contains("did not start", timedOut.Message, StringComparison.Ordinal);
        Assert.Contains("no slot", timedOut.Message, StringComparison.Ordinal);
        var shard = await ShardAsync(platform, "a");
        Assert.Equal((ShardState.Provisioning, "b"), (shard!.State, shard.StandbyRegion));
        Assert.Null(await ApiKeyHashAsync(platform));

        Assert.Equal(1, await platform.Tenants(options: options).AbortAsync(platform.TenantId, removeTenant: true, default));
        Assert.False(await platform.ShardDatabaseExistsAsync("a"));
        Assert.Null(await ShardAsync(platform, "a"));
    }

    [Fact]
    public async Task AddRegionAsync_TenantWithNas_NewShardGetsTheNasInventory()
    {
        await using var platform = await Platform.CreateAsync();
        await platform.Tenants().CreateAsync(platform.TenantId, "Nova", [HomeA], default);
        await platform.Nas().AddAsync(NasProvisionerTests.Spec(platform), default);

        var extended = await platform.Tenants().AddRegionAsync(platform.TenantId, HomeB, default);

        Assert.Equal(2, extended.Shards.Count);
        Assert.Equal(["bng-1"], await Sql.QueryAsync<string>(platform.Shard("b"), "SELECT id FROM nas_devices"));
        Assert.Equal(
            await Sql.ScalarAsync<byte[]>(platform.Shard("a"), "SELECT secret_enc FROM nas_devices WHERE id = 'bng-1'"),
            await Sql.ScalarAsync<byte[]>(platform.Shard("b"), "SELECT secret_enc FROM nas_devices WHERE id = 'bng-1'"));
    }

    [Fact]
    public async Task RetireShardAsync_WithSubscribers_RefusedUnlessForced()
    {
        await using var platform = await Platform.CreateAsync();
        await platform.Tenants().CreateAsync(platform.TenantId, "Nova", [HomeA], default);
        await Sql.ScalarAsync<object>(platform.Shard("a"), "INSERT INTO plans (id, display_name) VALUES ('basic', 'Basic')");
        await Sql.ScalarAsync<object>(platform.Shard("a"),
            "INSERT INTO subscribers (id, username, password_enc, plan_id) VALUES (gen_random_uuid(), 'alice', '\\x00', 'basic')");

        var refused = await Assert.ThrowsAsync<ProvisioningException>(() =>
            platform.Tenants().RetireShardAsync(platform.TenantId, "a", force: false, archive: null, default));
        Assert.Contains("still has 1 subscribers", refused.Message, StringComparison.Ordinal);
        Assert.Equal(ShardState.Active, (await ShardAsync(platform, "a"))!.State);

        await platform.Tenants().RetireShardAsync(platform.TenantId, "a", force: true, archive: null, default);

        Assert.False(await platform.ShardDatabaseExistsAsync("a"));
        Assert.Null(await ShardAsync(platform, "a"));
    }

    [Fact]
    public async Task AbortAsync_WhileCreationRuns_RefusedByTheTenantLock()
    {
        await using var platform = await Platform.CreateAsync();
        var paused = new PausingProgress("migrations and fence");
        var creating = platform.Tenants(paused).CreateAsync(platform.TenantId, "Nova", [HomeA], default);
        await paused.Paused.WaitAsync(TimeSpan.FromSeconds(60));

        var refused = await Assert.ThrowsAsync<ProvisioningException>(() => platform.Tenants().AbortAsync(platform.TenantId, removeTenant: true, default));
        paused.Release();
        var created = await creating;

        Assert.Contains("another lifecycle command", refused.Message, StringComparison.Ordinal);
        Assert.Equal(ShardState.Active, Assert.Single(created.Shards).State);
        Assert.True(await platform.ShardDatabaseExistsAsync("a"));
    }

    [Theory]
    [InlineData("zz", null, "region zz is not in the directory")]
    [InlineData("a", "a", "must be another region")]
    [InlineData("A", null, "must be lower-case")]
    public async Task CreateAsync_BadPlan_ClearExceptionAndNothingWritten(string home, string? standby, string expected)
    {
        await using var platform = await Platform.CreateAsync();

        var refused = await Assert.ThrowsAsync<ProvisioningException>(() =>
            platform.Tenants().CreateAsync(platform.TenantId, "Nova", [new ShardPlan(home, standby)], default));

        Assert.Contains(expected, refused.Message, StringComparison.Ordinal);
        var data = await platform.Directory.LoadAsync(default);
        Assert.DoesNotContain(data.Tenants, t => t.Id == platform.TenantId);
        Assert.DoesNotContain(data.Shards, s => s.Key.TenantId == platform.TenantId);
    }

    [Fact]
    public async Task CreateAsync_NoHome_ClearException()
    {
        await using var platform = await Platform.CreateAsync();

        var refused = await Assert.ThrowsAsync<ProvisioningException>(() => platform.Tenants().CreateAsync(platform.TenantId, "Nova", [], default));

        Assert.Contains("at least one home region", refused.Message, StringComparison.Ordinal);
    }

    private static async Task<Shard?> ShardAsync(Platform platform, string home) =>
        (await platform.Directory.LoadAsync(default)).Shards.SingleOrDefault(s => s.Key == new ShardKey(platform.TenantId, home));

    private static Task<byte[]?> ApiKeyHashAsync(Platform platform) =>
        Sql.ScalarAsync<byte[]>(platform.Databases.DirectoryConnectionString, "SELECT api_key_hash FROM tenants WHERE id = $1", platform.TenantId);
}
