namespace Geo.Rating.Tests;

public sealed class RaterTests
{
    private static readonly Tariff Prepaid = new(null, null, PricePerMbMicros: 2000, PricePerMinuteMicros: 0, AllowOverdraft: false, ExhaustionAction.Disconnect);

    [Fact]
    public void Rate_SplitIntoManyInterims_SameMoneyAsOneCharge()
    {
        var random = new Random(42);
        for (var run = 0; run < 200; run++)
        {
            long billed = 0, charged = 0;
            var total = random.NextInt64(0, 50_000_000_000);
            while (billed < total)
            {
                var step = Math.Min(total - billed, random.NextInt64(1, 3_000_000_000));
                charged += Rater.Rate(Prepaid, new Usage(step, 0, billed, 0), null, null, null).ChargeMicros;
                billed += step;
            }

            Assert.Equal(Rater.Cost(total, 2000, 1_000_000), charged);
        }
    }

    [Fact]
    public void Rate_MoreThanBalanceWithoutOverdraft_CappedAtBalanceAndExhausted()
    {
        var rated = Rater.Rate(Prepaid, new Usage(10_000_000_000, 0, 0, 0), null, null, balanceMicros: 5_000_000);

        Assert.Equal(5_000_000, rated.ChargeMicros);
        Assert.True(rated.Exhausted);
        Assert.True(rated.Marks.HasFlag(RatingMarks.Capped));
    }

    [Fact]
    public void Rate_WithOverdraft_ChargesInFull()
    {
        var tariff = Prepaid with { AllowOverdraft = true };

        var rated = Rater.Rate(tariff, new Usage(10_000_000_000, 0, 0, 0), null, null, balanceMicros: 5_000_000);

        Assert.Equal(20_000_000, rated.ChargeMicros);
        Assert.False(rated.Marks.HasFlag(RatingMarks.Capped));
    }

    [Fact]
    public void Rate_DataBucketRunsOut_CappedAtRemainingAndExhausted()
    {
        var tariff = new Tariff(5_000_000_000, null, 0, 0, false, ExhaustionAction.Throttle);

        var rated = Rater.Rate(tariff, new Usage(2_000_000_000, 0, 0, 0), new Bucket(5_000_000_000, 4_000_000_000), null, null);

        Assert.Equal(1_000_000_000, rated.DataUsed);
        Assert.True(rated.Marks.HasFlag(RatingMarks.DataExhausted));
        Assert.True(rated.Marks.HasFlag(RatingMarks.Capped));
    }

    [Fact]
    public void Rate_WithinBucket_NotExhausted()
    {
        var tariff = new Tariff(5_000_000_000, 3600, 0, 0, false, ExhaustionAction.Disconnect);

        var rated = Rater.Rate(tariff, new Usage(1000, 60, 0, 0), new Bucket(5_000_000_000, 0), new Bucket(3600, 0), null);

        Assert.Equal(new Rated(1000, 60, 0, RatingMarks.None), rated);
    }

    [Fact]
    public void Rate_TimePricedPerMinute_RoundedDownCumulatively()
    {
        var tariff = new Tariff(null, null, 0, PricePerMinuteMicros: 600_000, false, ExhaustionAction.Disconnect);

        var first = Rater.Rate(tariff, new Usage(0, 30, 0, 0), null, null, null).ChargeMicros;
        var second = Rater.Rate(tariff, new Usage(0, 30, 0, 30), null, null, null).ChargeMicros;

        Assert.Equal(600_000, first + second);
    }

    [Fact]
    public void Rate_NoUsage_NoChargeNothingExhausted()
    {
        var rated = Rater.Rate(Prepaid, new Usage(0, 0, 123, 0), null, null, balanceMicros: 100);
        Assert.Equal(new Rated(0, 0, 0, RatingMarks.None), rated);
    }

    [Fact]
    public void Rate_NegativeUsage_Refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Rater.Rate(Prepaid, new Usage(-1, 0, 0, 0), null, null, null));
    }

    [Theory]
    [InlineData("2026-11-22T10:00:00Z", 1, "2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z")]
    [InlineData("2026-11-22T10:00:00Z", 25, "2026-10-25T00:00:00Z", "2026-11-25T00:00:00Z")]
    [InlineData("2026-01-10T00:00:00Z", 15, "2025-12-15T00:00:00Z", "2026-01-15T00:00:00Z")]
    public void Containing_ResetDay_MonthFromLastResetDay(string now, int resetDay, string start, string end)
    {
        var (s, e) = BillingPeriod.Containing(DateTimeOffset.Parse(now, System.Globalization.CultureInfo.InvariantCulture), resetDay, null, DateTimeOffset.MinValue);
        Assert.Equal(DateTimeOffset.Parse(start, System.Globalization.CultureInfo.InvariantCulture), s);
        Assert.Equal(DateTimeOffset.Parse(end, System.Globalization.CultureInfo.InvariantCulture), e);
    }

    [Fact]
    public void Containing_Validity_FromActivation()
    {
        var activated = new DateTimeOffset(2026, 11, 1, 8, 0, 0, TimeSpan.Zero);
        Assert.Equal((activated, activated.AddDays(30)), BillingPeriod.Containing(activated.AddDays(3), null, 30, activated));
    }
}
