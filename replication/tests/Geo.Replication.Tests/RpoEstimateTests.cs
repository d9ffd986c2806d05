using Geo.Replication.Promotion;

namespace Geo.Replication.Tests;

public sealed class RpoEstimateTests
{
    private static readonly DateTimeOffset Committed = new(2026, 12, 6, 10, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Estimate_KafkaStreamWithoutHeardPosition_UnknownSayingWhy()
    {
        var position = new ReplicaPosition("kafka:geo.acme_a", """{"lsn":1,"offsets":{}}""", Committed, null, null, null, 42, null);

        var estimate = ReplicaPromotion.Estimate(position);

        Assert.False(estimate.Known);
        Assert.Null(estimate.Bytes);
        Assert.Null(estimate.Transactions);
        Assert.Equal(0, estimate.Seconds);
        Assert.Contains("Kafka", estimate.Basis, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0/3000", "0/3000")]
    [InlineData("0/3000", "0/2FF8")]
    public void Estimate_NothingHeardPastApplied_ZeroLoss(string applied, string heard)
    {
        var position = new ReplicaPosition("pgoutput:s", applied, Committed, heard, Committed.AddSeconds(30), Committed.AddSeconds(30), 7, null);

        var estimate = ReplicaPromotion.Estimate(position);

        Assert.True(estimate.Known);
        Assert.Equal((0d, 0d, 0L), (estimate.Bytes, estimate.Seconds, estimate.Transactions));
        Assert.Contains("Nothing heard past", estimate.Basis, StringComparison.Ordinal);
    }

    [Fact]
    public void Estimate_HeardPastApplied_BytesAndSourceTimeFromLastAppliedCommit()
    {
        var position = new ReplicaPosition("pgoutput:s", "1/FFFFFF00", Committed, "2/100", Committed.AddMilliseconds(1_250), Committed.AddSeconds(2), 7, null);

        var estimate = ReplicaPromotion.Estimate(position);

        Assert.True(estimate.Known);
        Assert.Equal(512d, estimate.Bytes);
        Assert.Equal(1.25, estimate.Seconds, 9);
        Assert.Null(estimate.Transactions);
        Assert.Contains("upper bound", estimate.Basis, StringComparison.Ordinal);
    }

    [Fact]
    public void Estimate_HeardClockBehindAppliedCommit_NeverNegative()
    {
        // Source clocks are not monotonic: a message stamped before the commit it follows still means "no time lost".
        var position = new ReplicaPosition("pgoutput:s", "0/100", Committed, "0/200", Committed.AddMilliseconds(-3), Committed, 1, null);

        Assert.Equal(0, ReplicaPromotion.Estimate(position).Seconds);
    }

    [Fact]
    public void Estimate_NoTransactionAppliedSinceInitialCopy_BytesKnownTimeNot()
    {
        var position = new ReplicaPosition("pgoutput:s", "0/100", null, "0/180", Committed, Committed, 0, null);

        var estimate = ReplicaPromotion.Estimate(position);

        Assert.True(estimate.Known);
        Assert.Equal(128d, estimate.Bytes);
        Assert.Equal(0, estimate.Seconds);
        Assert.Contains("not known", estimate.Basis, StringComparison.Ordinal);
    }

    [Fact]
    public void Estimate_AppliedPositionNotAnLsn_Unknown()
    {
        var position = new ReplicaPosition("pgoutput:s", "garbage", Committed, "0/180", Committed, Committed, 0, null);

        Assert.False(ReplicaPromotion.Estimate(position).Known);
    }
}
