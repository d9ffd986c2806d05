using System.Net;
using System.Net.Http.Json;
using Geo.Directory.Recovery;
using Geo.Directory.Shards;
using Geo.Directory.Stores.Postgres;
using Geo.Testing;
using Npgsql;
using Xunit.Abstractions;

namespace Geo.EndToEnd.Tests;

/// <summary>
/// <c>geoctl dr promote</c> run as its own process and SIGKILLed the moment it announces each of its steps: the same
/// command run again finishes the promotion, and the shard ends exactly as an uninterrupted run leaves it. Region a keeps
/// running here (a promotion of a live owner): its node must give the shard up (fenced by its lease) and b take it.
/// Every case promotes a tenant of its own, created for it with a standby in b.
/// </summary>
public sealed class PromotionRecoveryTests(TwoRegions stack, ITestOutputHelper log) : IClassFixture<TwoRegions>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(6)]
    [InlineData(7)]
    public async Task Promote_KilledWhenItAnnouncesAStep_RunAgainFinishesIt(int step)
    {
        var tenant = $"kill{step}";
        await stack.CreateReplicatedTenantAsync(tenant);
        string[] promote = ["dr", "promote", $"{tenant}@a", "--to", "b"];

        var (killed, output) = await stack.GeoctlUntilAsync(line => line.TrimStart().StartsWith($"... {step} ", StringComparison.Ordinal), promote,
            (_, _) => Task.CompletedTask, Deadline);
        Assert.True(killed, $"geoctl finished before it announced step {step}:\n{output}");

        var rerun = await RunAgainAsync(promote);
        log.WriteLine($"killed at step {step}; run again:\n{rerun}");
        await AssertPromotedAsync(tenant);
    }

    [Fact]
    public async Task Promote_WhileAnotherPromoteOfTheShardRuns_RefusedAtOnceAndChangesNothing()
    {
        const string tenant = "twice";
        await stack.CreateReplicatedTenantAsync(tenant);
        string[] promote = ["dr", "promote", $"{tenant}@a", "--to", "b"];

        // The first is held at its wait for a's lease (seconds); the second starts meanwhile.
        var (killed, output) = await stack.GeoctlUntilAsync(line => line.TrimStart().StartsWith("... 2 ", StringComparison.Ordinal), promote, async (_, _) =>
        {
            var (code, second) = await stack.GeoctlAsync(promote);
            Assert.True(code == 2, $"a second promote exited {code}:\n{second}");
            Assert.Contains("another promote, switchover or rejoin of twice@a is running", second, StringComparison.Ordinal);
        }, Deadline);
        Assert.True(killed, output);

        // The refused one changed nothing: the shard is where the first left it (promoting, owner a).
        await using var directory = new PostgresDirectoryStore(stack.DirectoryConnectionString);
        var shard = (await directory.LoadAsync(default)).Shards.Single(s => s.Key == new ShardKey(tenant, "a"));
        Assert.Equal(("a", ShardState.Promoting), (shard.OwnerRegion, shard.State));
        Assert.Contains((await directory.ListDrEventsAsync(shard.Key, 100, default)), e => e is { Step: "lease", Outcome: DrOutcomes.Refused });

        await RunAgainAsync(promote);
        await AssertPromotedAsync(tenant);
    }

    /// <summary>
    /// Runs the promotion again until it is not refused for the killed run's driver lease (it lapses within
    /// <c>ShardPromotion.DriverLeaseTtl</c>), and asserts it succeeded.
    /// </summary>
    private async Task<string> RunAgainAsync(string[] promote)
    {
        var (code, output) = await Eventually.ValueAsync(() => stack.GeoctlAsync(promote),
            run => !(run.Code == 2 && run.Output.Contains("another promote, switchover or rejoin", StringComparison.Ordinal)), Deadline,
            "the killed promote's driver lease lapses", poll: TimeSpan.FromMilliseconds(500));
        Assert.True(code == 0, $"the promote run again exited {code}:\n{output}");
        return output;
    }

    /// <summary>
    /// The shard ends as an uninterrupted promotion leaves it: b owns it at epoch 3 (1, promoting 2, owner 3) with no
    /// standby; b's replica is its writable database fenced at 3; b's node serves it and a's does not; the DR log ends
    /// with one "done"; and a further run says there is nothing to do.
    /// </summary>
    private async Task AssertPromotedAsync(string tenant)
    {
        var key = new ShardKey(tenant, "a");
        await using var directory = new PostgresDirectoryStore(stack.DirectoryConnectionString);
        var shard = (await directory.LoadAsync(default)).Shards.Single(s => s.Key == key);
        Assert.Equal(("b", (string?)null, ShardState.Active, 3L), (shard.OwnerRegion, shard.StandbyRegion, shard.State, shard.Epoch));

        var replica = stack.ShardConnectionString(tenant, "a", cluster: "b");
        Assert.Equal(3L, await Sql.ScalarAsync<long>(replica, "SELECT epoch FROM shard_fence"));
        // A new session (a pooled one keeps the read-only default it started with, as a database setting is read at login).
        Assert.Equal("off", await Sql.ScalarAsync<string>(new NpgsqlConnectionStringBuilder(replica) { Pooling = false }.ConnectionString, "SHOW default_transaction_read_only"));

        var leases = await directory.LoadOwnerLeasesAsync(default);
        Assert.Contains(leases.Leases, l => l.Key == key && l.Holder == "b" && l.Epoch == 3 && l.ExpiresAt > leases.DirectoryNow);
        using (var atB = stack.RegionApi(tenant, "b"))
        using (var written = await atB.PutAsJsonAsync($"/tenants/{tenant}/plans/after", new { displayName = "After", downloadKbps = 1_000, uploadKbps = 500 }))
        {
            Assert.Equal(HttpStatusCode.OK, written.StatusCode);
        }

        Assert.Equal(1L, await Sql.ScalarAsync<long>(replica, "SELECT count(*) FROM plans WHERE id = 'after'"));
        using (var atA = stack.RegionApi(tenant, "a"))
        using (var refused = await atA.PutAsJsonAsync($"/tenants/{tenant}/plans/stale", new { displayName = "Stale", downloadKbps = 1_000, uploadKbps = 500 }))
        {
            Assert.NotEqual(HttpStatusCode.OK, refused.StatusCode);
        }

        var events = await directory.ListDrEventsAsync(key, 200, default);
        Assert.Single(events, e => e.Outcome == DrOutcomes.Done && e.Step == "done");
        Assert.Equal("done", events[^1].Step);

        var (code, again) = await stack.GeoctlAsync("dr", "promote", $"{tenant}@a", "--to", "b");
        Assert.True(code == 0, again);
        Assert.Contains("nothing to do", again, StringComparison.Ordinal);
    }
}
