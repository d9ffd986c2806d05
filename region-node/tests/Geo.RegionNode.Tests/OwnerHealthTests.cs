using System.Diagnostics.Metrics;
using Geo.RegionNode.Survival;
using Geo.RegionNode.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Geo.RegionNode.Tests;

/// <summary>The per-owner circuit breaker of the shards a region stands by for.</summary>
public sealed class OwnerHealthTests : IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();

    [Fact]
    public void Timeouts_BelowTheThreshold_KeepForwarding_AtTheThreshold_TheOwnerIsDown()
    {
        var health = Create(downAfter: 3, probeInterval: TimeSpan.FromHours(1));

        health.TimedOut("a");
        health.TimedOut("a");
        Assert.True(health.ShouldForward("a"));
        Assert.False(health.IsDown("a"));

        health.TimedOut("a");
        Assert.True(health.IsDown("a"));
        Assert.False(health.ShouldForward("a"));
        Assert.Equal(["a"], health.DownRegions);
        // Another owner is judged on its own.
        Assert.True(health.ShouldForward("b"));
    }

    [Fact]
    public void AnAnswer_BetweenTimeouts_StartsTheCountAgain()
    {
        var health = Create(downAfter: 2, probeInterval: TimeSpan.FromHours(1));

        health.TimedOut("a");
        health.Answered("a");
        health.TimedOut("a");

        Assert.False(health.IsDown("a"));
    }

    [Fact]
    public void DownOwner_IsProbedOncePerInterval_AndAnAnswerBringsItBack()
    {
        var never = Create(downAfter: 1, probeInterval: TimeSpan.FromHours(1));
        never.TimedOut("a");
        Assert.False(never.ShouldForward("a"));

        // With no interval to wait, every request may probe.
        var always = Create(downAfter: 1, probeInterval: TimeSpan.Zero);
        always.TimedOut("a");
        Assert.True(always.IsDown("a"));
        Assert.True(always.ShouldForward("a"));
        always.Answered("a");
        Assert.False(always.IsDown("a"));
        Assert.Empty(always.DownRegions);
    }

    [Fact]
    public void MissedHeartbeats_AtTheThreshold_TheOwnerIsDown_AnAnsweredOneResetsTheCount()
    {
        var health = Create(downAfter: 2, probeInterval: TimeSpan.FromHours(1));

        health.HeartbeatMissed("a");
        health.HeartbeatAnswered("a");
        health.HeartbeatMissed("a");
        Assert.False(health.IsDown("a"));

        health.HeartbeatMissed("a");
        Assert.True(health.IsDown("a"));
        Assert.False(health.ShouldForward("a"));
    }

    [Fact]
    public void AnsweredHeartbeat_DoesNotBringADownOwnerBack_AnAnsweredForwardDoes()
    {
        // Its node answers Status-Server, yet its requests go unanswered (its database is gone): still down.
        var health = Create(downAfter: 2, probeInterval: TimeSpan.FromHours(1));
        health.TimedOut("a");
        health.TimedOut("a");
        health.HeartbeatAnswered("a");
        Assert.True(health.IsDown("a"));

        health.Answered("a");
        Assert.False(health.IsDown("a"));
        // Heartbeats and forwards are counted apart: one miss of each is not two in a row.
        health.HeartbeatMissed("a");
        health.TimedOut("a");
        Assert.False(health.IsDown("a"));
    }

    [Fact]
    public void DownOwner_NotProbedWithRequests_WhileItsHeartbeatsGoUnanswered()
    {
        var health = Create(downAfter: 2, probeInterval: TimeSpan.Zero);
        health.HeartbeatMissed("a");
        health.HeartbeatMissed("a");
        Assert.True(health.IsDown("a"));
        // Its node is gone: a request sent as a probe would only wait out its timeout before the replica answers.
        Assert.False(health.ShouldForward("a"));

        // Its node answers again (its shards perhaps not yet): requests probe whether it serves.
        health.HeartbeatAnswered("a");
        Assert.True(health.IsDown("a"));
        Assert.True(health.ShouldForward("a"));
    }

    private OwnerHealth Create(int downAfter, TimeSpan probeInterval) =>
        new(Options.Create(new RegionNodeOptions { OwnerDownAfterTimeouts = downAfter, OwnerProbeInterval = probeInterval }),
            new Metrics(_services.GetRequiredService<IMeterFactory>()), NullLogger<OwnerHealth>.Instance);

    public void Dispose() => _services.Dispose();
}
