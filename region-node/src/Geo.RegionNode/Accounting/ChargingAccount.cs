using Geo.Rating;
using Geo.RegionNode.Shards;

namespace Geo.RegionNode.Accounting;

/// <summary>A subscriber's plan and, on a rated plan, its balance and current buckets as charging changes them.</summary>
internal sealed class ChargingAccount(Plan plan, DateTimeOffset createdAt)
{
    public Plan Plan { get; } = plan;

    public DateTimeOffset CreatedAt { get; } = createdAt;

    public Guid SubscriberId { get; init; }

    public string Username { get; init; } = "";

    /// <summary>When the subscriber's plan was read from the database.</summary>
    public DateTimeOffset LoadedAt { get; init; }

    /// <summary>True for a copy of what the group commit remembered (<see cref="Reusable"/>), false for one read now.</summary>
    public bool Remembered { get; set; }

    public BucketState? Data { get; set; }

    public BucketState? Time { get; set; }

    public long? Balance { get; set; }

    /// <summary>The balance as read: the write applies only where it still holds this.</summary>
    public long? ReadBalance { get; set; }

    public bool BalanceChanged { get; set; }

    /// <summary>
    /// Completes an account just read at <paramref name="now"/>: a quota plan without a bucket for the current period
    /// starts one (the monthly reset, or the first use), and a plan without a price has no balance to charge.
    /// </summary>
    public void OpenCurrentPeriod(DateTimeOffset now)
    {
        if (!Plan.IsRated)
        {
            return;
        }

        var (start, end) = BillingPeriod.Containing(now, Plan.ResetDay, Plan.ValidityDays, CreatedAt);
        if (Plan.Tariff.DataQuotaBytes is { } data && Data is null)
        {
            Data = new BucketState(Guid.CreateVersion7(), data, 0, null, start, end);
        }

        if (Plan.Tariff.TimeQuotaSeconds is { } time && Time is null)
        {
            Time = new BucketState(Guid.CreateVersion7(), time, 0, null, start, end);
        }

        if (!Plan.Tariff.IsPriced)
        {
            Balance = null;
        }
    }

    /// <summary>
    /// A reusable copy of this account, or null when it must be re-read: older than <paramref name="planAge"/>, plan changed, or
    /// holding state no compare-and-set would check (an exhausted bucket, an empty balance, an ended period).
    /// </summary>
    public ChargingAccount? Reusable(ShardHandle shard, DateTimeOffset now, TimeSpan planAge)
    {
        if (now - LoadedAt >= planAge || !shard.Plans.TryGetValue(Plan.Id, out var plan) || plan.IsRated != Plan.IsRated)
        {
            return null;
        }

        var usable = !plan.IsRated || (Usable(Data, plan.Tariff.DataQuotaBytes, now) && Usable(Time, plan.Tariff.TimeQuotaSeconds, now)
            && (!plan.Tariff.IsPriced || this is { ReadBalance: not null, Balance: > 0 }));
        if (!usable)
        {
            return null;
        }

        var copy = Copy(plan, written: false);
        copy.Remembered = true;
        return copy;

        static bool Usable(BucketState? bucket, long? quota, DateTimeOffset now) => quota is null
            ? bucket is null
            : bucket is { ExhaustedAt: null } && bucket.Used < bucket.Granted && (bucket.PeriodEnd is null || bucket.PeriodEnd > now) && !(bucket.PeriodStart > now);
    }

    /// <summary>
    /// A copy holding what this account holds now as what was read, on <paramref name="plan"/>. With
    /// <paramref name="written"/> (its writes committed) a bucket this account started exists from now on.
    /// </summary>
    public ChargingAccount Copy(Plan plan, bool written) => new(plan, CreatedAt)
    {
        SubscriberId = SubscriberId,
        Username = Username,
        LoadedAt = LoadedAt,
        Data = Data?.Copy(written),
        Time = Time?.Copy(written),
        Balance = Balance,
        ReadBalance = written ? ReadBalance is null ? null : Balance : ReadBalance,
    };

    /// <summary>
    /// Takes, in place, what <paramref name="charged"/> (a copy of this account that a commit wrote) holds now, as
    /// <see cref="Copy"/> with <c>written</c> would; false, changing nothing, when its buckets are not this one's.
    /// </summary>
    public bool TakeWritten(ChargingAccount charged)
    {
        if (charged.Plan.Id != Plan.Id || !BucketState.Same(Data, charged.Data) || !BucketState.Same(Time, charged.Time))
        {
            return false;
        }

        Data?.TakeWritten(charged.Data!);
        Time?.TakeWritten(charged.Time!);
        Balance = charged.Balance;
        ReadBalance = ReadBalance is null ? null : charged.Balance;
        return true;
    }
}

/// <summary>A bucket being charged; <see cref="PeriodStart"/> is set only for one this transaction creates.</summary>
internal sealed class BucketState(Guid id, long granted, long used, DateTimeOffset? exhaustedAt, DateTimeOffset? periodStart, DateTimeOffset? periodEnd)
{
    public Guid Id { get; } = id;

    public long Granted { get; } = granted;

    public long Used { get; private set; } = used;

    public DateTimeOffset? ExhaustedAt { get; private set; } = exhaustedAt;

    /// <summary>What was read: the write applies only where the row still holds it.</summary>
    public long ReadUsed { get; private set; } = used;

    public DateTimeOffset? ReadExhaustedAt { get; private set; } = exhaustedAt;

    public DateTimeOffset? PeriodStart { get; private set; } = periodStart;

    public DateTimeOffset? PeriodEnd { get; } = periodEnd;

    public bool Changed { get; private set; } = periodStart is not null;

    public Bucket Bucket => new(Granted, Used);

    /// <summary>A copy holding what this bucket holds now as what was read; once <paramref name="written"/>, a new one exists.</summary>
    public BucketState Copy(bool written) => new(Id, Granted, Used, ExhaustedAt, written ? null : PeriodStart, PeriodEnd);

    public static bool Same(BucketState? a, BucketState? b) => a is null ? b is null : b is not null && a.Id == b.Id;

    /// <summary>Takes what <paramref name="written"/> (the same bucket, as a commit wrote it) holds now, in place.</summary>
    public void TakeWritten(BucketState written)
    {
        Used = ReadUsed = written.Used;
        ExhaustedAt = ReadExhaustedAt = written.ExhaustedAt;
        PeriodStart = null;
        Changed = false;
    }

    public void Consume(long amount)
    {
        if (amount > 0)
        {
            Used += amount;
            Changed = true;
        }
    }

    public void MarkExhaustedIfEmpty(DateTimeOffset now)
    {
        if (Used >= Granted && ExhaustedAt is null)
        {
            ExhaustedAt = now;
            Changed = true;
        }
    }
}
