using FsCheck;
using FsCheck.Xunit;
using Geo.Rating;
using Geo.RegionNode.Accounting;
using static Geo.RegionNode.Tests.AccountingScenario;

namespace Geo.RegionNode.Tests;

/// <summary>
/// The invariants charging and the session accumulator promise, for any input: usage is charged from cumulative
/// counters, so however the NAS's reports arrive (repeated, reordered, in any group commits) a session is charged
/// what one delivery of its last report would charge; money is conserved and never goes below zero without overdraft.
/// </summary>
public sealed class ChargingPropertyTests
{
    private const long BytesPerStep = 37_123;

    [Property(MaxTest = 300)]
    public void Charging_ReportsRepeatedReorderedAndRebatched_ChargeWhatOneDeliveryWould(NonEmptyArray<PositiveInt> steps, NonNegativeInt balance, bool quota, int seed)
    {
        var tariff = new Tariff(quota ? 2_000_000 : null, null, 2_000, 0, false, ExhaustionAction.Disconnect);
        var reports = Reports(steps.Get);
        var random = new Random(seed);
        var delivered = new List<AccountingWork>();
        foreach (var report in reports)
        {
            for (var copies = random.Next(1, 4); copies > 0; copies--)
            {
                delivered.Insert(random.Next(delivered.Count + 1), report);
            }
        }

        var scenario = new AccountingScenario(Plan(tariff), balance.Get * 100L);
        for (var next = 0; next < delivered.Count;)
        {
            var size = Math.Min(random.Next(1, 6), delivered.Count - next);
            scenario.Commit([.. delivered.GetRange(next, size)]);
            next += size;
        }

        var once = new AccountingScenario(Plan(tariff), balance.Get * 100L);
        once.Commit(reports[0], reports[^1]);

        Assert.Equal(once.Charged, scenario.Charged);
        Assert.Equal(once.DataUsed, scenario.DataUsed);
        Assert.Equal(once.Account.Balance, scenario.Account.Balance);
        Assert.Equal(once.Account.Data?.Used, scenario.Account.Data?.Used);
        var session = Assert.Single(scenario.Sessions.Values);
        Assert.False(session.Open);
        Assert.Equal(steps.Get.Sum(s => (long)s.Get) * BytesPerStep, session.Counters.InputOctets);
        Assert.Equal(session.Counters.InputOctets, scenario.Cdrs.Sum(c => c.Delta.InputOctets));
    }

    [Property(MaxTest = 300)]
    public void Charging_AnyUsageWithoutOverdraft_BalanceNeverNegativeAndEveryMicroAccountedFor(NonEmptyArray<PositiveInt> steps, NonNegativeInt balance, NonNegativeInt batchSize)
    {
        var start = balance.Get * 10L;
        var scenario = new AccountingScenario(Plan(new Tariff(1_000, null, 2_000, 0, false, ExhaustionAction.Throttle)), start);
        var reports = Reports(steps.Get);
        var size = 1 + (batchSize.Get % 4);
        for (var next = 0; next < reports.Count; next += size)
        {
            scenario.Commit([.. reports.GetRange(next, Math.Min(size, reports.Count - next))]);
            Assert.True(scenario.Account.Balance >= 0);
            Assert.True(scenario.Account.Data!.Used <= scenario.Account.Data.Granted);
        }

        Assert.Equal(start - scenario.Account.Balance, scenario.Charged);
        Assert.All(scenario.Cdrs.Where(c => c.ChargedMicros > 0), c => Assert.NotNull(c.BalanceAfterMicros));
        if (scenario.Cdrs.LastOrDefault(c => c.BalanceAfterMicros is not null) is { } last)
        {
            Assert.Equal(scenario.Account.Balance, last.BalanceAfterMicros);
        }

        // The plan's exhaustion action is issued once per session at most.
        Assert.True(scenario.Plans.Sum(p => p.Exhausted.Count) <= 1);
    }

    [Property(MaxTest = 500)]
    public void Accumulator_AnyReports_DeltasNeverNegativeAndARepeatAddsNothing(NonEmptyArray<Tuple<byte, NonNegativeInt, NonNegativeInt, NonNegativeInt>> reports)
    {
        SessionState? session = null;
        foreach (var (kindCode, input, output, time) in reports.Get)
        {
            var kind = (AccountingKind)(kindCode % 3);
            var e = new AccountingEvent(kind, "nas-1", "s-1", "alice", Subscriber, T0.AddSeconds(time.Get), new Counters(input.Get, output.Get, 0, 0, time.Get), null, null, null, null);
            session ??= SessionAccumulator.Create(e);

            if (SessionAccumulator.Apply(session, e) is { } cdr)
            {
                Assert.True(cdr.Delta.InputOctets >= 0 && cdr.Delta.OutputOctets >= 0 && cdr.Delta.SessionTime >= 0);
                Assert.True(cdr.Delta.InputOctets <= input.Get && cdr.Delta.OutputOctets <= output.Get);
                var counters = session.Counters;
                Assert.Null(SessionAccumulator.Apply(session, e));
                Assert.Equal(counters, session.Counters);
            }
        }
    }

    /// <summary>Start, interims whose cumulative bytes grow by the steps, and the Stop with the last counters.</summary>
    private static List<AccountingWork> Reports(PositiveInt[] steps)
    {
        var reports = new List<AccountingWork> { Event(AccountingKind.Start, 0, 0) };
        long bytes = 0;
        for (var i = 0; i < steps.Length; i++)
        {
            bytes += steps[i].Get * BytesPerStep;
            reports.Add(Event(i == steps.Length - 1 ? AccountingKind.Stop : AccountingKind.Interim, bytes, 60L * (i + 1)));
        }

        return reports;
    }
}
