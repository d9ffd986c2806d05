using Geo.Rating;
using Geo.RegionNode.Shards;

namespace Geo.RegionNode.Accounting;

/// <summary>One request of a group commit: an accounting event, or a NAS restart that closes the NAS's open sessions.</summary>
internal readonly record struct AccountingWork(AccountingEvent? Event, NasRestart? Restart);

/// <summary>A NAS restarted (Accounting-On/Off): its open sessions are closed at <see cref="At"/>.</summary>
internal sealed record NasRestart(string NasId, DateTimeOffset At, string Cause);

/// <summary>A plan's exhaustion action to send to the NAS of a session once the transaction has committed.</summary>
internal sealed record ExhaustionRequest(Guid RequestId, SessionState Session, Guid SubscriberId, Plan Plan);

/// <summary>A quota bucket charging changed, with its account and its kind (<c>data</c> or <c>time</c>).</summary>
internal readonly record struct BucketWrite(ChargingAccount Account, BucketState Bucket, string Kind);

/// <summary>
/// What one group commit writes, decided by <see cref="BatchPlanner"/> before anything is written: the sessions it
/// inserts and updates, its CDRs with their charges, the buckets and balances charging changed, and what is done once
/// it has committed (sessions closed, exhaustion actions, cached profiles to drop).
/// </summary>
internal sealed class BatchPlan(Dictionary<(string NasId, string AcctSessionId), SessionState> sessions)
{
    /// <summary>Every session of the batch (read, remembered or new), changed in place.</summary>
    public Dictionary<(string NasId, string AcctSessionId), SessionState> Sessions { get; } = sessions;

    /// <summary>The CDRs to insert, in the order of the events; charged once <see cref="BatchPlanner.Charge"/> ran.</summary>
    public List<CdrRow> Cdrs { get; } = [];

    /// <summary>The session of each of <see cref="Cdrs"/>, at the same position.</summary>
    public List<SessionState> CdrSessions { get; } = [];

    /// <summary>Sessions this batch closed (a Stop, or their NAS restarted).</summary>
    public HashSet<SessionState> Closed { get; } = [];

    /// <summary>Events that reported nothing new (duplicates, stale or late).</summary>
    public int Duplicates { get; set; }

    /// <summary>Sessions to insert: a plain insert, so a session another node inserted first makes the commit start over.</summary>
    public List<SessionState> NewSessions { get; } = [];

    /// <summary>Sessions to update where the row is still the version read, in id order.</summary>
    public List<SessionState> ChangedSessions { get; } = [];

    /// <summary>The accounts charged (rated, with usage in this batch): once committed, each holds what its rows hold.</summary>
    public List<ChargingAccount> Charged { get; } = [];

    /// <summary>Buckets of a new period, inserted.</summary>
    public List<BucketWrite> NewBuckets { get; } = [];

    /// <summary>Buckets charged, written where they still hold what was read, in id order.</summary>
    public List<BucketWrite> ChangedBuckets { get; } = [];

    /// <summary>Balances charged, written where they still hold what was read, in subscriber order.</summary>
    public List<ChargingAccount> ChangedBalances { get; } = [];

    public List<ExhaustionRequest> Exhausted { get; } = [];

    /// <summary>Subscribers whose cached profile no longer says what authentication would decide.</summary>
    public HashSet<string> ChangedProfiles { get; } = new(StringComparer.Ordinal);

    public bool HasWrites => NewSessions.Count > 0 || ChangedSessions.Count > 0 || Cdrs.Count > 0;
}

/// <summary>
/// Turns a group commit's requests into what it writes. Pure: it reads nothing and writes nothing, so every rule is
/// tested without a database. Usage is charged from cumulative counters (<see cref="SessionAccumulator"/>): a
/// repeated or replayed event makes no CDR and charges nothing.
/// </summary>
internal static class BatchPlanner
{
    /// <summary>
    /// Applies the batch's requests in order to <paramref name="sessions"/> (read or remembered; a session first seen
    /// here is created): each event that reports something new makes a CDR, a NAS restart closes the NAS's open sessions.
    /// </summary>
    public static BatchPlan Accumulate(IReadOnlyList<AccountingWork> work, Dictionary<(string NasId, string AcctSessionId), SessionState> sessions)
    {
        var plan = new BatchPlan(sessions);
        foreach (var item in work)
        {
            if (item.Event is { } e)
            {
                var key = (e.NasId, e.AcctSessionId);
                if (!sessions.TryGetValue(key, out var session))
                {
                    session = SessionAccumulator.Create(e);
                    sessions[key] = session;
                }

                var wasOpen = session.Open;
                if (SessionAccumulator.Apply(session, e) is { } cdr)
                {
                    plan.Cdrs.Add(cdr);
                    plan.CdrSessions.Add(session);
                    if (wasOpen && !session.Open)
                    {
                        plan.Closed.Add(session);
                    }
                }
                else
                {
                    plan.Duplicates++;
                }
            }
            else if (item.Restart is { } restart)
            {
                foreach (var session in sessions.Values)
                {
                    if (session.NasId == restart.NasId && session.Open)
                    {
                        SessionAccumulator.CloseForNasRestart(session, restart.At, restart.Cause);
                        plan.Closed.Add(session);
                    }
                }
            }
        }

        return plan;
    }

    /// <summary>The subscribers of the plan's CDRs, each once: the accounts charging needs.</summary>
    public static List<Guid> SubscribersToCharge(BatchPlan plan)
    {
        var subscribers = new List<Guid>();
        var seen = new HashSet<Guid>();
        foreach (var cdr in plan.Cdrs)
        {
            if (cdr.SubscriberId is { } id && seen.Add(id))
            {
                subscribers.Add(id);
            }
        }

        return subscribers;
    }

    /// <summary>
    /// Rates every CDR in order (<see cref="Rater"/>) against its subscriber's account in <paramref name="accounts"/> (unrated
    /// usage is recorded, not charged) and decides the batch's writes.
    /// </summary>
    public static void Charge(BatchPlan plan, IReadOnlyDictionary<Guid, ChargingAccount> accounts, DateTimeOffset now)
    {
        var charged = new HashSet<ChargingAccount>();
        for (var i = 0; i < plan.Cdrs.Count; i++)
        {
            var cdr = plan.Cdrs[i];
            var session = plan.CdrSessions[i];
            var bytes = cdr.Delta.InputOctets + cdr.Delta.OutputOctets;
            var seconds = cdr.Delta.SessionTime;
            var usage = new Usage(bytes, seconds, session.BilledBytes, session.BilledSeconds);
            session.BilledBytes += bytes;
            session.BilledSeconds += seconds;
            if (cdr.SubscriberId is not { } subscriber || !accounts.TryGetValue(subscriber, out var account) || !account.Plan.IsRated)
            {
                continue;
            }

            if (charged.Add(account))
            {
                plan.Charged.Add(account);
            }

            var rated = Rater.Rate(account.Plan.Tariff, usage, account.Data?.Bucket, account.Time?.Bucket, account.Balance);
            account.Data?.Consume(rated.DataUsed);
            account.Time?.Consume(rated.TimeUsed);
            long? balanceAfter = null;
            if (rated.ChargeMicros > 0)
            {
                account.Balance -= rated.ChargeMicros;
                account.BalanceChanged = true;
                balanceAfter = account.Balance ?? 0;
            }

            if (rated.Exhausted)
            {
                account.Data?.MarkExhaustedIfEmpty(now);
                account.Time?.MarkExhaustedIfEmpty(now);
                plan.ChangedProfiles.Add(session.Username);
                if (session.Open && !session.ExhaustionApplied)
                {
                    session.ExhaustionApplied = true;
                    session.Dirty = true;
                    plan.Exhausted.Add(new ExhaustionRequest(Guid.CreateVersion7(), session, subscriber, account.Plan));
                }
            }
            else if ((account.ReadBalance > 0 && account.Balance <= 0) || account.Data?.PeriodStart is not null || account.Time?.PeriodStart is not null)
            {
                // The cached profile keeps the balance and the quota state only for authentication's decision (is there
                // money left, is the quota exhausted), which changes when the balance reaches zero or a new period
                // starts a fresh bucket; a charge that leaves money costs no cache invalidation.
                plan.ChangedProfiles.Add(session.Username);
            }

            plan.Cdrs[i] = cdr with
            {
                ChargedMicros = rated.ChargeMicros, BalanceAfterMicros = balanceAfter, DataUsed = rated.DataUsed, TimeUsed = rated.TimeUsed, RatingMarks = (int)rated.Marks,
            };
        }

        PlanAccountWrites(plan);
        PlanSessionWrites(plan);
    }

    /// <summary>
    /// The accounts read but not charged, to remember as read: those remembered already, and those charged (remembered
    /// as written), are not among them.
    /// </summary>
    public static List<ChargingAccount> ReadNotCharged(IEnumerable<ChargingAccount> read, BatchPlan plan)
    {
        var charged = new HashSet<ChargingAccount>(plan.Charged);
        var result = new List<ChargingAccount>();
        foreach (var account in read)
        {
            if (!account.Remembered && charged.Add(account))
            {
                result.Add(account);
            }
        }

        return result;
    }

    private static void PlanAccountWrites(BatchPlan plan)
    {
        foreach (var account in plan.Charged)
        {
            AddBucket(plan, account, account.Data, "data");
            AddBucket(plan, account, account.Time, "time");
            if (account.BalanceChanged && account.ReadBalance is not null)
            {
                plan.ChangedBalances.Add(account);
            }
        }

        // Compare-and-set in id order: the order every charging transaction takes these row locks in.
        plan.ChangedBuckets.Sort(static (a, b) => a.Bucket.Id.CompareTo(b.Bucket.Id));
        plan.ChangedBalances.Sort(static (a, b) => a.SubscriberId.CompareTo(b.SubscriberId));

        static void AddBucket(BatchPlan plan, ChargingAccount account, BucketState? bucket, string kind)
        {
            if (bucket is { Changed: true })
            {
                (bucket.PeriodStart is null ? plan.ChangedBuckets : plan.NewBuckets).Add(new BucketWrite(account, bucket, kind));
            }
        }
    }

    private static void PlanSessionWrites(BatchPlan plan)
    {
        foreach (var session in plan.Sessions.Values)
        {
            if (session.Dirty)
            {
                (session.New ? plan.NewSessions : plan.ChangedSessions).Add(session);
            }
        }

        plan.ChangedSessions.Sort(static (a, b) => a.Id.CompareTo(b.Id));
    }
}
