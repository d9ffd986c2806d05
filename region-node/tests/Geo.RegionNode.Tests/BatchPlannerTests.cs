using Geo.Rating;
using Geo.RegionNode.Accounting;
using static Geo.RegionNode.Tests.AccountingScenario;

namespace Geo.RegionNode.Tests;

public sealed class BatchPlannerTests
{
    private static readonly Tariff Prepaid = new(null, null, 2_000, 0, false, ExhaustionAction.Disconnect);
    private static readonly Tariff DataQuota = new(10_000, null, 0, 0, false, ExhaustionAction.Throttle);
    private static readonly Tariff Flat = new(null, null, 0, 0, false, ExhaustionAction.Disconnect);

    [Fact]
    public void Accumulate_StartInterimAndRetransmission_OneCdrPerNewReportAndTheRepeatCounted()
    {
        var scenario = new AccountingScenario(Plan(Flat), null);

        var plan = scenario.Commit(Event(AccountingKind.Start, 0, 0), Event(AccountingKind.Interim, 1_000, 60), Event(AccountingKind.Interim, 1_000, 60));

        Assert.Equal([AccountingKind.Start, AccountingKind.Interim], plan.Cdrs.Select(c => c.Kind));
        Assert.Equal(1, plan.Duplicates);
        var session = Assert.Single(plan.NewSessions);
        Assert.Empty(plan.ChangedSessions);
        Assert.Equal(1_000, session.Counters.InputOctets);
        Assert.Same(session, plan.CdrSessions[1]);
    }

    [Fact]
    public void Accumulate_StopOfAKnownSession_UpdatedAndClosed()
    {
        var scenario = new AccountingScenario(Plan(Flat), null);
        scenario.Commit(Event(AccountingKind.Start, 0, 0));

        var plan = scenario.Commit(Event(AccountingKind.Stop, 4_000, 120));

        Assert.Empty(plan.NewSessions);
        var session = Assert.Single(plan.ChangedSessions);
        Assert.Contains(session, plan.Closed);
        Assert.False(session.Open);
        Assert.Equal("User-Request", session.TerminateCause);
    }

    [Fact]
    public void Accumulate_NasRestart_ClosesOnlyTheOpenSessionsOfThatNas()
    {
        var scenario = new AccountingScenario(Plan(Flat), null);
        scenario.Commit(Event(AccountingKind.Start, 0, 0, "s-1"), Event(AccountingKind.Start, 0, 0, "s-2"), Event(AccountingKind.Start, 0, 0, "s-3", "nas-2"));
        scenario.Commit(Event(AccountingKind.Stop, 10, 30, "s-2"));

        var plan = scenario.Commit(Restart("nas-1"));

        Assert.Equal(["s-1"], plan.Closed.Select(s => s.AcctSessionId));
        Assert.Equal(["s-1"], plan.ChangedSessions.Select(s => s.AcctSessionId));
        Assert.Empty(plan.Cdrs);
        Assert.True(plan.Sessions[("nas-2", "s-3")].Open);
        Assert.Equal("NAS-Reboot (Accounting-On)", plan.Sessions[("nas-1", "s-1")].TerminateCause);
    }

    [Fact]
    public void Accumulate_NothingNew_PlansNoWrite()
    {
        var scenario = new AccountingScenario(Plan(Flat), null);
        scenario.Commit(Event(AccountingKind.Start, 0, 0), Event(AccountingKind.Interim, 500, 60));

        var plan = scenario.Commit(Event(AccountingKind.Interim, 500, 60), Event(AccountingKind.Start, 0, 0));

        Assert.False(plan.HasWrites);
        Assert.Equal(2, plan.Duplicates);
    }

    [Fact]
    public void Charge_PricedUsage_TakesTheMoneyFromTheBalanceAndRecordsItOnTheCdr()
    {
        var scenario = new AccountingScenario(Plan(Prepaid), 1_000_000);

        var plan = scenario.Commit(Event(AccountingKind.Start, 0, 0), Event(AccountingKind.Interim, 3_000_000, 60));

        var cdr = plan.Cdrs[1];
        Assert.Equal(6_000, cdr.ChargedMicros);
        Assert.Equal(994_000, cdr.BalanceAfterMicros);
        Assert.Null(plan.Cdrs[0].BalanceAfterMicros);
        var balance = Assert.Single(plan.ChangedBalances);
        Assert.Equal(994_000, balance.Balance);
        Assert.Equal(1_000_000, balance.ReadBalance);
        Assert.Equal(3_000_000, plan.CdrSessions[1].BilledBytes);
        Assert.Empty(plan.Exhausted);
        Assert.Empty(plan.ChangedProfiles);
    }

    [Fact]
    public void Charge_BalanceRunsOut_CappedExhaustedOnceAndProfileDropped()
    {
        var scenario = new AccountingScenario(Plan(Prepaid), 5_000);
        scenario.Commit(Event(AccountingKind.Start, 0, 0));

        var plan = scenario.Commit(Event(AccountingKind.Interim, 3_000_000, 60));
        var later = scenario.Commit(Event(AccountingKind.Interim, 4_000_000, 120));

        Assert.Equal(5_000, plan.Cdrs[0].ChargedMicros);
        Assert.Equal(0, plan.Cdrs[0].BalanceAfterMicros);
        var exhausted = Assert.Single(plan.Exhausted);
        Assert.Equal(Subscriber, exhausted.SubscriberId);
        Assert.True(exhausted.Session.ExhaustionApplied);
        Assert.Contains("alice", plan.ChangedProfiles);
        Assert.Empty(later.Exhausted);
        Assert.Equal(0, later.Cdrs[0].ChargedMicros);
    }

    [Fact]
    public void Charge_FirstUseOfAPeriod_InsertsTheBucketThenUpdatesItWhereItStillHoldsWhatWasRead()
    {
        var scenario = new AccountingScenario(Plan(DataQuota), null);

        var first = scenario.Commit(Event(AccountingKind.Start, 0, 0), Event(AccountingKind.Interim, 4_000, 60));
        var second = scenario.Commit(Event(AccountingKind.Interim, 6_000, 120));

        var inserted = Assert.Single(first.NewBuckets);
        Assert.Equal("data", inserted.Kind);
        Assert.Equal(4_000, inserted.Bucket.Used);
        Assert.Empty(first.ChangedBuckets);
        Assert.Contains("alice", first.ChangedProfiles);
        var updated = Assert.Single(second.ChangedBuckets);
        Assert.Equal(inserted.Bucket.Id, updated.Bucket.Id);
        Assert.Equal(4_000, updated.Bucket.ReadUsed);
        Assert.Equal(6_000, updated.Bucket.Used);
        Assert.Empty(second.NewBuckets);
        Assert.Empty(second.ChangedBalances);
    }

    [Fact]
    public void Charge_QuotaExhausted_ThrottleRequestedAndBucketMarked()
    {
        var scenario = new AccountingScenario(Plan(DataQuota), null, dataBucketUsed: 9_000);
        scenario.Commit(Event(AccountingKind.Start, 0, 0));

        var plan = scenario.Commit(Event(AccountingKind.Interim, 5_000, 60));

        Assert.Equal(1_000, plan.Cdrs[0].DataUsed);
        Assert.Equal((int)(RatingMarks.DataExhausted | RatingMarks.Capped), plan.Cdrs[0].RatingMarks);
        Assert.Equal(AccountingScenario.T0, Assert.Single(plan.ChangedBuckets).Bucket.ExhaustedAt);
        Assert.Single(plan.Exhausted);
        Assert.Contains(plan.Exhausted[0].Session, plan.ChangedSessions);
    }

    [Fact]
    public void Charge_UnratedPlan_RecordsTheUsageWithoutChargingAnything()
    {
        var scenario = new AccountingScenario(Plan(Flat), null);

        var plan = scenario.Commit(Event(AccountingKind.Start, 0, 0), Event(AccountingKind.Stop, 8_000, 60));

        Assert.All(plan.Cdrs, c => Assert.Equal(0, c.ChargedMicros));
        Assert.Empty(plan.Charged);
        Assert.Empty(plan.NewBuckets);
        Assert.Equal(8_000, plan.CdrSessions[1].BilledBytes);
    }

    [Fact]
    public void Charge_ManySessions_UpdatesInIdOrder()
    {
        var scenario = new AccountingScenario(Plan(Flat), null);
        var keys = Enumerable.Range(0, 20).Select(i => $"s-{i}").ToArray();
        scenario.Commit([.. keys.Select(k => Event(AccountingKind.Start, 0, 0, k))]);

        var plan = scenario.Commit([.. Enumerable.Reverse(keys).Select(k => Event(AccountingKind.Interim, 100, 60, k))]);

        Assert.Equal(plan.ChangedSessions.Select(s => s.Id).Order(), plan.ChangedSessions.Select(s => s.Id));
        Assert.Equal(20, plan.ChangedSessions.Count);
    }

    [Fact]
    public void ReadNotCharged_LeavesOutTheChargedAndTheRemembered()
    {
        var scenario = new AccountingScenario(Plan(Prepaid), 1_000_000);
        var plan = scenario.Commit(Event(AccountingKind.Start, 0, 0), Event(AccountingKind.Interim, 1_000_000, 60));
        var charged = Assert.Single(plan.Charged);
        var read = new ChargingAccount(charged.Plan, AccountingScenario.T0) { SubscriberId = Guid.CreateVersion7() };
        var remembered = new ChargingAccount(charged.Plan, AccountingScenario.T0) { SubscriberId = Guid.CreateVersion7(), Remembered = true };

        Assert.Equal([read], BatchPlanner.ReadNotCharged([charged, read, remembered, read], plan));
    }

    [Fact]
    public void SubscribersToCharge_EachSubscriberOnce()
    {
        var scenario = new AccountingScenario(Plan(Flat), null);

        var plan = scenario.Commit(Event(AccountingKind.Start, 0, 0, "s-1"), Event(AccountingKind.Start, 0, 0, "s-2"));

        Assert.Equal([AccountingScenario.Subscriber], BatchPlanner.SubscribersToCharge(plan));
    }
}
