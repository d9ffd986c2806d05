using System.Collections.Concurrent;
using System.Net;
using System.Text.RegularExpressions;
using Geo.Directory.Shards;
using Geo.Directory.Stores.Postgres;
using Geo.Engines;
using Geo.Testing;
using Xunit.Abstractions;

namespace Geo.EndToEnd.Tests;

/// <summary>
/// A planned switchover under accounting load and logins, then the failback: <c>geoctl dr switchover acme@a --to b</c> moves the
/// shard with nothing lost — every accounting request either region acknowledged is at the new owner, the verifier's checksums
/// are equal, no login is rejected — and prints the write pause; <c>geoctl dr failback acme@a</c> brings it home the same way.
/// </summary>
public sealed partial class SwitchoverTests(TwoRegions stack, ITestOutputHelper log) : IClassFixture<TwoRegions>
{
    private const string NasAddress = "127.0.10.1";

    [Fact]
    public async Task SwitchoverUnderLoadThenFailback_NothingAcknowledgedLostChecksumsEqualNoLoginRejected()
    {
        var key = new ShardKey("acme", "a");
        await stack.SeededReplicaAsync("acme", "a", "b");
        var secret = stack.NasSecret("acme-bng-a");

        // The NAS: accounting at 1,000/s and logins, both to its primary region a throughout.
        var usernames = Enumerable.Range(1, 20).Select(i => stack.Subscriber("acme", "a", i).Username).ToList();
        using var load = new NasAccountingLoad(IPAddress.Parse(NasAddress), stack.RadiusAcct("a"), secret);
        using var stop = new CancellationTokenSource();
        var accounting = load.RunAsync(usernames, perSecond: 1_000, stop.Token);
        var logins = new ConcurrentBag<string>();
        var loggingIn = LoginLoopAsync(logins, stop.Token);
        await Eventually.TrueAsync(() => load.Acknowledged.Count >= 2_000, TimeSpan.FromSeconds(60), "region a acknowledges the accounting load");

        var (code, output) = await stack.GeoctlAsync("dr", "switchover", "acme@a", "--to", "b");
        log.WriteLine($"geoctl dr switchover acme@a --to b: exit {code}\n{output}");
        Assert.Equal(0, code);
        var after = load.Acknowledged.Count;
        await Eventually.TrueAsync(() => load.Acknowledged.Count >= after + 1_000, TimeSpan.FromSeconds(60), "the load is acknowledged through a after the switchover");

        // Failback: home again, the same way.
        (code, var failback) = await stack.GeoctlAsync("dr", "failback", "acme@a");
        log.WriteLine($"geoctl dr failback acme@a: exit {code}\n{failback}");
        Assert.Equal(0, code);
        after = load.Acknowledged.Count;
        await Eventually.TrueAsync(() => load.Acknowledged.Count >= after + 1_000, TimeSpan.FromSeconds(60), "the load is acknowledged after the failback");
        await stop.CancelAsync();
        await accounting;
        await loggingIn;

        // The pause each printed, and that they said nothing was lost and the checksums were equal.
        foreach (var printed in new[] { output, failback })
        {
            var pause = double.Parse(PausePattern().Match(printed).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            log.WriteLine($"write pause {pause:F2} s");
            Assert.Contains("data lost: none", printed, StringComparison.Ordinal);
            Assert.Contains("checksums equal", printed, StringComparison.Ordinal);
        }

        // RPO 0: every request either region acknowledged is at the owner (a again) and at its standby (b).
        var acknowledged = load.Acknowledged.Keys.ToList();
        log.WriteLine($"{acknowledged.Count} accounting requests acknowledged; {logins.Count} logins");
        foreach (var region in new[] { "a", "b" })
        {
            var database = stack.ShardConnectionString("acme", "a", cluster: region);
            await Eventually.TrueAsync(async () => (await Sessions.PresentAsync(database, acknowledged)).Count == acknowledged.Count, TimeSpan.FromSeconds(30),
                $"every acknowledged request is in region {region}'s copy");
        }

        Assert.All(logins, l => Assert.Contains("Received Access-Accept", l, StringComparison.Ordinal));
        Assert.True(logins.Count >= 5, $"only {logins.Count} logins");
        await using var directory = new PostgresDirectoryStore(stack.DirectoryConnectionString);
        var shard = (await directory.LoadAsync(default)).Shards.Single(s => s.Key == key);
        Assert.Equal(("a", (string?)"b", ShardState.Active), (shard.OwnerRegion, shard.StandbyRegion, shard.State));
        var (verified, verdict) = await stack.GeoctlAsync("verify", "acme@a");
        Assert.True(verified == 0, verdict);
        await Billing.AssertHoldsAsync(stack.ShardConnectionString("acme", "a", cluster: "a"));
    }

    [Fact]
    public async Task Switchover_StandbyCannotCatchUp_AbortedTheOwnerServesAgainNothingLost()
    {
        await stack.SeededReplicaAsync("acme", "a", "b");
        var owner = stack.ShardConnectionString("acme", "a", cluster: "a");
        try
        {
            // The standby stops applying: it cannot reach the switch point.
            ProcessTree.Kill(stack.Replicator("b").Pid!.Value);
            var before = $"abort-before-{Guid.NewGuid():N}";
            await AccountAsync(before);

            var (code, output) = await stack.GeoctlAsync("dr", "switchover", "acme@a", "--to", "b", "--catch-up-timeout", "1");
            log.WriteLine($"geoctl dr switchover acme@a --to b --catch-up-timeout 1: exit {code}\n{output}");
            Assert.Equal(1, code);
            Assert.Contains("aborted", output, StringComparison.Ordinal);

            // a owns it again, at a higher epoch, and takes accounting; what it had is all there.
            await using var directory = new PostgresDirectoryStore(stack.DirectoryConnectionString);
            var shard = (await directory.LoadAsync(default)).Shards.Single(s => s.Key == new ShardKey("acme", "a"));
            Assert.Equal(("a", (string?)"b", ShardState.Active), (shard.OwnerRegion, shard.StandbyRegion, shard.State));
            Assert.Equal(shard.Epoch, await Sql.ScalarAsync<long>(owner, "SELECT epoch FROM shard_fence"));
            var after = $"abort-after-{Guid.NewGuid():N}";
            await Eventually.TrueAsync(async () => await TryAccountAsync(after), TimeSpan.FromSeconds(15), "region a takes accounting again after the abort");
            Assert.Equal(2, (await Sessions.PresentAsync(owner, [before, after])).Count);
        }
        finally
        {
            await stack.UpAsync();
        }
    }

    private async Task AccountAsync(string session) => Assert.True(await TryAccountAsync(session), $"the Start of {session} was not acknowledged");

    private async Task<bool> TryAccountAsync(string session)
    {
        var reply = await Radclient.SendAsync(stack.RadiusAcct("a"), "acct", stack.NasSecret("acme-bng-a"),
            $"User-Name = \"{stack.Subscriber("acme", "a", 30).Username}\"\nAcct-Status-Type = Start\nAcct-Session-Id = \"{session}\"\nPacket-Src-IP-Address = {NasAddress}",
            timeoutSeconds: 2);
        return reply.Output.Contains("Received Accounting-Response", StringComparison.Ordinal);
    }

    /// <summary>Logins of subscribers neither the load nor the abort test's Starts use, one after another, to the NAS's primary region, until stopped.</summary>
    private async Task LoginLoopAsync(ConcurrentBag<string> replies, CancellationToken cancellationToken)
    {
        var secret = stack.NasSecret("acme-bng-a");
        for (var n = 0; !cancellationToken.IsCancellationRequested; n++)
        {
            var (user, password) = stack.Subscriber("acme", "a", 21 + (n % 8));
            var reply = await Radclient.SendAsync(stack.RadiusAuth("a"), "auth", secret,
                $"User-Name = \"{user}\"\nUser-Password = \"{password}\"\nMessage-Authenticator = 0x00\nPacket-Src-IP-Address = {NasAddress}", timeoutSeconds: 3, tries: 3);
            replies.Add(reply.Output);
        }
    }

    [GeneratedRegex(@"write pause ([0-9.]+) s")]
    private static partial Regex PausePattern();
}
