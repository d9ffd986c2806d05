using Geo.RegionNode.Accounting;

namespace Geo.RegionNode.Tests;

public sealed class SessionAccumulatorTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Apply_StartInterimsStop_DeltasSumToFinalCounters()
    {
        var session = SessionAccumulator.Create(Event(AccountingKind.Start, 0, 0));
        var deltas = new List<long>
        {
            SessionAccumulator.Apply(session, Event(AccountingKind.Start, 0, 0))!.Delta.InputOctets,
            SessionAccumulator.Apply(session, Event(AccountingKind.Interim, 1000, 60))!.Delta.InputOctets,
            SessionAccumulator.Apply(session, Event(AccountingKind.Interim, 5000, 120))!.Delta.InputOctets,
            SessionAccumulator.Apply(session, Event(AccountingKind.Stop, 7000, 150))!.Delta.InputOctets,
        };

        Assert.Equal([0, 1000, 4000, 2000], deltas);
        Assert.False(session.Open);
        Assert.Equal(7000, session.Counters.InputOctets);
    }

    [Fact]
    public void Apply_RepeatedInterim_NoCdrAndNothingAdded()
    {
        var session = Started();
        SessionAccumulator.Apply(session, Event(AccountingKind.Interim, 1000, 60));

        var repeat = SessionAccumulator.Apply(session, Event(AccountingKind.Interim, 1000, 60));

        Assert.Null(repeat);
        Assert.Equal(1000, session.Counters.InputOctets);
    }

    [Fact]
    public void Apply_StaleInterimAfterNewerOne_IgnoredCountersNeverLowered()
    {
        var session = Started();
        SessionAccumulator.Apply(session, Event(AccountingKind.Interim, 5000, 120));

        var stale = SessionAccumulator.Apply(session, Event(AccountingKind.Interim, 1000, 60));

        Assert.Null(stale);
        Assert.Equal(5000, session.Counters.InputOctets);
    }

    [Fact]
    public void Apply_CounterWentBackwardsWhileTimeWentOn_RebasedFlaggedNeverNegative()
    {
        var session = Started();
        SessionAccumulator.Apply(session, Event(AccountingKind.Interim, 5000, 120));

        var reset = SessionAccumulator.Apply(session, Event(AccountingKind.Interim, 300, 180))!;

        Assert.Equal(300, reset.Delta.InputOctets);
        Assert.Equal(SessionAccumulator.CounterReset, reset.Flags & SessionAccumulator.CounterReset);
        Assert.Equal(300, session.Counters.InputOctets);
        Assert.Equal(500, SessionAccumulator.Apply(session, Event(AccountingKind.Interim, 800, 240))!.Delta.InputOctets);
    }

    [Fact]
    public void Apply_AnythingAfterStop_Ignored()
    {
        var session = Started();
        SessionAccumulator.Apply(session, Event(AccountingKind.Stop, 5000, 120));

        Assert.Null(SessionAccumulator.Apply(session, Event(AccountingKind.Interim, 9000, 180)));
        Assert.Null(SessionAccumulator.Apply(session, Event(AccountingKind.Stop, 9000, 180)));
        Assert.Equal(5000, session.Counters.InputOctets);
    }

    [Fact]
    public void Apply_InterimWithoutStart_CreatesSessionFlaggedMissedStart()
    {
        var first = Event(AccountingKind.Interim, 1000, 60);
        var session = SessionAccumulator.Create(first);

        var cdr = SessionAccumulator.Apply(session, first)!;

        Assert.Equal(1000, cdr.Delta.InputOctets);
        Assert.Equal(SessionAccumulator.MissedStart, cdr.Flags & SessionAccumulator.MissedStart);
        Assert.Equal(T0.AddSeconds(60 - 60), session.StartedAt);
    }

    [Fact]
    public void Apply_RandomOrderWithDuplicates_NeverAddsMoreThanTheLastCounter()
    {
        var random = new Random(20261122);
        for (var run = 0; run < 500; run++)
        {
            var reports = Enumerable.Range(1, 10).Select(i => Event(AccountingKind.Interim, i * 1000L, i * 60L)).ToList();
            var shuffled = reports.Concat(reports.Take(random.Next(10))).OrderBy(_ => random.Next()).ToList();
            var session = Started();

            var total = shuffled.Select(e => SessionAccumulator.Apply(session, e)?.Delta.InputOctets ?? 0).Sum();

            Assert.Equal(session.Counters.InputOctets, total);
            Assert.True(total <= 10_000);
        }
    }

    private static SessionState Started()
    {
        var start = Event(AccountingKind.Start, 0, 0);
        var session = SessionAccumulator.Create(start);
        SessionAccumulator.Apply(session, start);
        return session;
    }

    private static AccountingEvent Event(AccountingKind kind, long inputOctets, long sessionTime) =>
        new(kind, "nas-1", "session-1", "alice", Guid.Empty, T0.AddSeconds(sessionTime), new Counters(inputOctets, 0, 0, 0, sessionTime), null, null, null, null);
}
