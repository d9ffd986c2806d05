using Geo.Directory.Stores.Postgres;
using Geo.Directory.Tests;
using Geo.Testing;
using Npgsql;

namespace Geo.Directory.IntegrationTests;

/// <summary>Owner leases and the DR event log of the PostgreSQL store, on the database's clock.</summary>
public sealed class PostgresDrStoreTests : DrStoreContract
{
    private string? _connectionString;

    [Fact]
    public async Task RenewOwnerLeasesAsync_PromotionInFlight_WaitsForItThenRefusesTheOldEpoch()
    {
        await using var store = await CreateStoreAsync();
        var held = Assert.Single((await store.RenewOwnerLeasesAsync("a", [(AcmeA, 1)], TimeSpan.FromSeconds(4), default)).Granted);
        await using var promoter = new NpgsqlConnection(_connectionString);
        await promoter.OpenAsync();
        await using var promotion = await promoter.BeginTransactionAsync();
        await using (var update = new NpgsqlCommand(
            "UPDATE shards SET state = 'promoting', epoch = epoch + 1 WHERE tenant_id = 'acme' AND home_region = 'a'", promoter, promotion))
        {
            await update.ExecuteNonQueryAsync();
        }

        // The renewal read the shard at epoch 1 before the promotion committed: it must wait for it and then see epoch 2,
        // or the promotion would wait out a lease that a renewal it did not see extends afterwards.
        var renewing = store.RenewOwnerLeasesAsync("a", [(AcmeA, 1)], TimeSpan.FromSeconds(4), default);
        await Eventually.TrueAsync(async () => renewing.IsCompleted || await Sql.ScalarAsync<long>(_connectionString!,
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'") > 0,
            TimeSpan.FromSeconds(10), "the renewal waits on the promotion's row lock");
        Assert.False(renewing.IsCompleted, "a renewal must not pass a shard row being changed");
        await promotion.CommitAsync();

        Assert.Empty((await renewing.WaitAsync(TimeSpan.FromSeconds(10))).Granted);
        Assert.Equal([held], (await store.LoadOwnerLeasesAsync(default)).Leases);
    }

    [Fact]
    public async Task RenewOwnerLeasesAsync_Granted_ShardRowUntouched()
    {
        await using var store = await CreateStoreAsync();
        const string Row = "SELECT xmin::text || '/' || updated_at::text FROM shards WHERE tenant_id = 'acme' AND home_region = 'a'";
        var before = await Sql.ScalarAsync<string>(_connectionString!, Row);

        await store.RenewOwnerLeasesAsync("a", [(AcmeA, 1)], TimeSpan.FromSeconds(4), default);
        await store.ReleaseOwnerLeasesAsync("a", default);

        Assert.Equal(before, await Sql.ScalarAsync<string>(_connectionString!, Row));
    }

    protected override async Task<IDirectoryStore> CreateStoreAsync()
    {
        _connectionString = await DirectoryDatabase.CreateAsync();
        return new PostgresDirectoryStore(_connectionString);
    }

    protected override async Task<DateTimeOffset> DirectoryClockAsync() =>
        new(await Sql.ScalarAsync<DateTime>(_connectionString!, "SELECT clock_timestamp()"), TimeSpan.Zero);

    // The database's clock moves on between two statements by itself.
    protected override void LetTimePass()
    {
    }
}
