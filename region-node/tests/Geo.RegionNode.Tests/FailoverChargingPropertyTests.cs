using FsCheck;
using FsCheck.Xunit;
using Geo.Rating;
using Geo.RegionNode.Accounting;
using static Geo.RegionNode.Tests.AccountingScenario;

namespace Geo.RegionNode.Tests;

/// <summary>
/// What a failover and a rejoin do to charging, through the group commit's own planning and rating: the NAS's reports of several
/// sessions, interleaved and repeated, reach the owner a until a random point; the standby b holds a's state after a random number
/// of a's commits (what was replicated); after the failover the NAS sends the rest to b, and again some that a had acknowledged but
/// whose answers were lost; then the rejoin re-sends a's divergent tail (every report a turned into a CDR after b's position) to b,
/// in a's commit order, and a rerun of the rejoin re-sends it all again. However that falls, each session is charged at b exactly what one delivery of its reports would charge.
/// </summary>
public sealed class FailoverChargingPropertyTests
{
    private const long BytesPerStep = 41_017;

    [Property(MaxTest = 400)]
    public void FailoverThenRejoin_AnyInterleavingAndSplit_EachSessionChargedOnceAtTheNewOwner(NonEmptyArray<PositiveInt> steps, PositiveInt sessionCount, int seed)
    {
        var random = new Random(seed);
        var tariff = new Tariff(null, null, 2_000, 0, false, ExhaustionAction.Disconnect);
        var sessions = Enumerable.Range(1, 1 + (sessionCount.Get % 4)).Select(s => $"s-{s}").ToList();
        var reports = sessions.ToDictionary(s => s, s => Reports(s, steps.Get.Skip(random.Next(steps.Get.Length)).DefaultIfEmpty(steps.Get[0]).ToArray()));

        // The NAS: each session's reports in order, sessions interleaved, some sent twice (a retransmission).
        var cursor = sessions.ToDictionary(s => s, _ => 0);
        var sent = new List<AccountingWork>();
        while (cursor.Any(c => c.Value < reports[c.Key].Count))
        {
            var open = cursor.Where(c => c.Value < reports[c.Key].Count).Select(c => c.Key).ToList();
            var session = open[random.Next(open.Count)];
            var report = reports[session][cursor[session]++];
            sent.Add(report);
            if (random.Next(4) == 0)
            {
                sent.Add(report);
            }
        }

        // Region a commits what reaches it before it is lost, in group commits of random size.
        var failover = random.Next(1, sent.Count + 1);
        var owner = new AccountingScenario(Plan(tariff), Balance);
        var batches = Batches(sent.Take(failover).ToList(), random);
        foreach (var batch in batches)
        {
            owner.Commit([.. batch]);
        }

        // The standby holds a's state after some of its commits (replication is a consistent prefix).
        var replicated = random.Next(batches.Count + 1);
        var standby = new AccountingScenario(Plan(tariff), Balance);
        foreach (var batch in batches.Take(replicated))
        {
            standby.Commit([.. batch]);
        }

        // The divergent tail: every report a's later commits turned into a CDR, as the rejoin re-sends it.
        var idOf = owner.Sessions.Values.ToDictionary(s => s.Id, s => s.AcctSessionId);
        var tail = owner.Plans.Skip(replicated).SelectMany(p => p.Cdrs)
            .Select(c => Event(c.Kind, c.Reported.InputOctets, c.Reported.SessionTime, idOf[c.SessionId])).ToList();

        // After the failover b gets the rest, and before it some a had acknowledged whose answers the NAS never got.
        var resent = sent.Take(failover).Skip(Math.Max(0, failover - 5)).Where(_ => random.Next(2) == 0);
        foreach (var batch in Batches([.. resent, .. sent.Skip(failover)], random))
        {
            standby.Commit([.. batch]);
        }

        // The rejoin, run twice (a rerun re-sends what was re-sent already).
        foreach (var batch in Batches([.. tail, .. tail], random))
        {
            standby.Commit([.. batch]);
        }

        var once = new AccountingScenario(Plan(tariff), Balance);
        once.Commit([.. sessions.SelectMany(s => new[] { reports[s][0], reports[s][^1] })]);
        foreach (var session in sessions)
        {
            var row = standby.Sessions[("nas-1", session)];
            Assert.False(row.Open);
            Assert.Equal(reports[session][^1].Event!.Counters.InputOctets, row.Counters.InputOctets);
            Assert.Equal(row.Counters.InputOctets, standby.Cdrs.Where(c => c.SessionId == row.Id).Sum(c => c.Delta.InputOctets));
        }

        Assert.Equal(once.Charged, standby.Charged);
        Assert.Equal(once.Account.Balance, standby.Account.Balance);
    }

    private const long Balance = 1_000_000_000_000;

    /// <summary>Start, interims whose cumulative bytes grow by the steps, and the Stop with the last counters.</summary>
    private static List<AccountingWork> Reports(string session, PositiveInt[] steps)
    {
        var reports = new List<AccountingWork> { Event(AccountingKind.Start, 0, 0, session) };
        long bytes = 0;
        for (var i = 0; i < steps.Length; i++)
        {
            bytes += steps[i].Get * BytesPerStep;
            reports.Add(Event(i == steps.Length - 1 ? AccountingKind.Stop : AccountingKind.Interim, bytes, 60L * (i + 1), session));
        }

        return reports;
    }

    private static List<List<AccountingWork>> Batches(List<AccountingWork> work, Random random)
    {
        var batches = new List<List<AccountingWork>>();
        for (var next = 0; next < work.Count;)
        {
            var size = Math.Min(random.Next(1, 6), work.Count - next);
            batches.Add(work.GetRange(next, size));
            next += size;
        }

        return batches;
    }
}
