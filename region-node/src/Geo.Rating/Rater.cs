namespace Geo.Rating;

/// <summary>A quota bucket of the current period.</summary>
/// <param name="Granted">What the period grants.</param>
/// <param name="Used">What has been used of it.</param>
public readonly record struct Bucket(long Granted, long Used)
{
    public long Remaining => Math.Max(0, Granted - Used);
}

/// <summary>New usage of a session: what it added since the last charge, and what the session had been billed for before.</summary>
/// <param name="Bytes">Bytes added (upload + download).</param>
/// <param name="Seconds">Seconds added.</param>
/// <param name="BilledBytesBefore">Bytes of this session billed before this usage (for drift-free pricing).</param>
/// <param name="BilledSecondsBefore">Seconds of this session billed before this usage.</param>
public readonly record struct Usage(long Bytes, long Seconds, long BilledBytesBefore, long BilledSecondsBefore);

/// <summary>The outcome of rating one usage.</summary>
/// <param name="DataUsed">What to add to the data bucket's used amount.</param>
/// <param name="TimeUsed">What to add to the time bucket's used amount.</param>
/// <param name="ChargeMicros">Money to take from the balance (never negative).</param>
/// <param name="Marks">What was capped or exhausted, see <see cref="RatingMarks"/>.</param>
public readonly record struct Rated(long DataUsed, long TimeUsed, long ChargeMicros, RatingMarks Marks)
{
    /// <summary>True when this usage ran a quota or the balance out: the plan's exhaustion action applies.</summary>
    public bool Exhausted => (Marks & (RatingMarks.DataExhausted | RatingMarks.TimeExhausted | RatingMarks.BalanceExhausted)) != 0;
}

/// <summary>Why a rating was capped, or what it exhausted.</summary>
[Flags]
public enum RatingMarks
{
    None = 0,

    /// <summary>The data bucket is empty after this usage.</summary>
    DataExhausted = 1,

    /// <summary>The time bucket is empty after this usage.</summary>
    TimeExhausted = 2,

    /// <summary>The balance is empty after this usage.</summary>
    BalanceExhausted = 4,

    /// <summary>Part of the usage exceeded a bucket or the balance and was not charged (recorded on the CDR).</summary>
    Capped = 8,
}

/// <summary>
/// Rates usage against a tariff as cost(cumulative after) − cost(cumulative before), each rounded down, so splitting into
/// interims never gains or loses a micro-unit. Without overdraft nothing goes below zero: the excess is capped and flagged.
/// </summary>
public static class Rater
{
    private const long BytesPerMb = 1_000_000;
    private const long SecondsPerMinute = 60;

    public static Rated Rate(Tariff tariff, Usage usage, Bucket? data, Bucket? time, long? balanceMicros)
    {
        ArgumentNullException.ThrowIfNull(tariff);
        ArgumentOutOfRangeException.ThrowIfNegative(usage.Bytes);
        ArgumentOutOfRangeException.ThrowIfNegative(usage.Seconds);
        var flags = RatingMarks.None;

        var dataUsed = Consume(usage.Bytes, data, tariff.AllowOverdraft, RatingMarks.DataExhausted, ref flags);
        var timeUsed = Consume(usage.Seconds, time, tariff.AllowOverdraft, RatingMarks.TimeExhausted, ref flags);

        long charge = 0;
        if (tariff.IsPriced)
        {
            charge = Cost(usage.BilledBytesBefore + usage.Bytes, tariff.PricePerMbMicros, BytesPerMb) - Cost(usage.BilledBytesBefore, tariff.PricePerMbMicros, BytesPerMb)
                   + Cost(usage.BilledSecondsBefore + usage.Seconds, tariff.PricePerMinuteMicros, SecondsPerMinute) - Cost(usage.BilledSecondsBefore, tariff.PricePerMinuteMicros, SecondsPerMinute);
            if (balanceMicros is { } balance && !tariff.AllowOverdraft)
            {
                var available = Math.Max(0, balance);
                if (charge >= available && (charge > 0 || available == 0) && (usage.Bytes > 0 || usage.Seconds > 0))
                {
                    flags |= RatingMarks.BalanceExhausted;
                    if (charge > available)
                    {
                        flags |= RatingMarks.Capped;
                        charge = available;
                    }
                }
            }
        }

        return new Rated(dataUsed, timeUsed, charge, flags);
    }

    /// <summary>Money for a cumulative amount, rounded down: floor(amount × price / unit), without overflow.</summary>
    public static long Cost(long amount, long pricePerUnit, long unit) =>
        pricePerUnit == 0 ? 0 : (long)((Int128)amount * pricePerUnit / unit);

    private static long Consume(long amount, Bucket? bucket, bool overdraft, RatingMarks exhausted, ref RatingMarks flags)
    {
        if (bucket is not { } b)
        {
            return amount;
        }

        if (overdraft)
        {
            if (b.Used + amount >= b.Granted && amount > 0)
            {
                flags |= exhausted;
            }

            return amount;
        }

        var used = Math.Min(amount, b.Remaining);
        if (used < amount)
        {
            flags |= RatingMarks.Capped;
        }

        if (b.Remaining - used == 0 && amount > 0)
        {
            flags |= exhausted;
        }

        return used;
    }
}
