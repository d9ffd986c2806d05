using System.Net;
using System.Net.Http.Json;
using Geo.Directory.Shards;
using Geo.Directory.Stores.Postgres;
using Geo.Testing;
using Xunit.Abstractions;

namespace Geo.EndToEnd.Tests;

/// <summary>
/// <c>geoctl dr switchover</c> run as its own process and SIGKILLed the moment it announces a step: the shard is left
/// switching (nobody serves it), and the same command run again finishes the switchover, with the two databases equal and
/// replication running the other way. Each case switches a tenant of its own.
/// </summary>
public sealed class SwitchoverRecoveryTests(TwoRegions stack, ITestOutputHelper log) : IClassFixture<TwoRegions>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(9)]
    public async Task Switchover_KilledWhenItAnnouncesAStep_RunAgainFinishesIt(int step)
    {
        var tenant = $"switch{step}";
        await stack.CreateReplicatedTenantAsync(tenant);
        string[] switchover = ["dr", "switchover", $"{tenant}@a", "--to", "b"];

        var (killed, output) = await stack.GeoctlUntilAsync(line => line.TrimStart().StartsWith($"... {step} ", StringComparison.Ordinal), switchover,
            (_, _) => Task.CompletedTask, Deadline);
        Assert.True(killed, $"geoctl finished before it announced step {step}:\n{output}");

        var (code, again) = await Eventually.ValueAsync(() => stack.GeoctlAsync(switchover),
            run => !(run.Code == 2 && run.Output.Contains("is running", StringComparison.Ordinal)), Deadline,
            "the killed switchover's driver lease lapses", poll: TimeSpan.FromMilliseconds(500));
        log.WriteLine($"killed at step {step}; run again: exit {code}\n{again}");
        Assert.True(code == 0, again);

        await using var directory = new PostgresDirectoryStore(stack.DirectoryConnectionString);
        var shard = (await directory.LoadAsync(default)).Shards.Single(s => s.Key == new ShardKey(tenant, "a"));
        Assert.Equal(("b", (string?)"a", ShardState.Active), (shard.OwnerRegion, shard.StandbyRegion, shard.State));
        Assert.Equal(shard.Epoch, await Sql.ScalarAsync<long>(stack.ShardConnectionString(tenant, "a", cluster: "b"), "SELECT epoch FROM shard_fence"));

        // b serves it and a streams from b.
        using (var atB = stack.RegionApi(tenant, "b"))
        using (var written = await atB.PutAsJsonAsync($"/tenants/{tenant}/plans/after", new { displayName = "After", downloadKbps = 1_000, uploadKbps = 500 }))
        {
            Assert.Equal(HttpStatusCode.OK, written.StatusCode);
        }

        await Eventually.TrueAsync(async () => await Sql.ScalarAsync<long>(stack.ShardConnectionString(tenant, "a", cluster: "a"), "SELECT count(*) FROM plans WHERE id = 'after'") == 1,
            Deadline, "a's database, now the replica, gets b's write");
        var (verified, verdict) = await stack.GeoctlAsync("verify", $"{tenant}@a");
        Assert.True(verified == 0, verdict);
    }
}
