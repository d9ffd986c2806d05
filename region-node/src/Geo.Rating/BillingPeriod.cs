namespace Geo.Rating;

/// <summary>The quota period that contains a moment: monthly from a reset day, or a fixed validity from activation.</summary>
public static class BillingPeriod
{
    /// <summary>
    /// The period containing <paramref name="now"/>. With a reset day (1–28), the month from the last such day
    /// at 00:00 UTC; without one, <paramref name="validityDays"/> from <paramref name="activatedAt"/> (or an
    /// unbounded period when there is no validity either).
    /// </summary>
    public static (DateTimeOffset Start, DateTimeOffset? End) Containing(DateTimeOffset now, int? resetDay, int? validityDays, DateTimeOffset activatedAt)
    {
        if (resetDay is { } day)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(day, 1);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(day, 28);
            var utc = now.ToUniversalTime();
            var start = new DateTimeOffset(utc.Year, utc.Month, day, 0, 0, 0, TimeSpan.Zero);
            if (start > utc)
            {
                start = start.AddMonths(-1);
            }

            return (start, start.AddMonths(1));
        }

        if (validityDays is { } days)
        {
            return (activatedAt, activatedAt.AddDays(days));
        }

        return (activatedAt, null);
    }
}
