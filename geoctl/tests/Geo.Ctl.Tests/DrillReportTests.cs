using Geo.Ctl.Drill;
using Geo.Radius;

namespace Geo.Ctl.Tests;

public sealed class DrillReportTests
{
    [Theory]
    [InlineData(0.100, 0.140, true)] // under 250 ms: within 50 ms
    [InlineData(0.100, 0.160, false)]
    [InlineData(0.000, 0.000, true)]
    [InlineData(1.000, 1.190, true)] // from 250 ms: within 20 %
    [InlineData(1.000, 0.790, false)]
    [InlineData(0.400, 0.330, true)]
    [InlineData(0.400, 0.310, false)]
    public void EstimateAgrees_WithinTwentyPercentOrFiftyMillisecondsUnderAQuarterSecond(double measured, double estimated, bool agrees) =>
        Assert.Equal(agrees, new RpoMeasurement("acme@a", 100, 3, measured, estimated, null).EstimateAgrees);

    [Fact]
    public void EstimateAgrees_NoEstimate_DoesNotAgree() =>
        Assert.False(new RpoMeasurement("acme@a", 100, 0, 0, null, null).EstimateAgrees);

    [Fact]
    public void Complete_ACleanKill_PassesWithTheRtoOfTheFirstAcceptThroughTheBackup()
    {
        var report = Report("kill-region");
        report.FaultAt = 10;
        report.OwnerServingAt = 18;
        report.Rpo.Add(new RpoMeasurement("acme@a", 40, 1, 0.01, 0, null));
        report.MissingAfterRejoin = 0;

        report.Complete([Login("a", 1, RadiusCode.AccessAccept), Login("b", 12.5, RadiusCode.AccessAccept), Login("b", 14, RadiusCode.AccessAccept), Acct("b", 13)], [], new Dictionary<int, double>(), [], Options());

        Assert.True(report.Passed, string.Join("; ", report.Checks.Where(c => !c.Passed).Select(c => c.Name)));
        Assert.Equal(2.5, report.RtoBackupSeconds!.Value, 3);
        Assert.Equal(8, report.RtoOwnerSeconds!.Value, 3);
        Assert.Equal(3, report.AnsweredByRegion["b"]);
    }

    [Fact]
    public void Complete_AValidSubscriberRejected_Fails()
    {
        var report = Report("kill-region");
        report.FaultAt = 10;
        report.Rpo.Add(new RpoMeasurement("acme@a", 40, 0, 0, 0, null));
        report.MissingAfterRejoin = 0;

        report.Complete([Login("b", 12, RadiusCode.AccessAccept), Login("b", 12.2, RadiusCode.AccessReject)], [], new Dictionary<int, double>(), [], Options());

        Assert.False(report.Passed);
        var check = Assert.Single(report.Checks, c => !c.Passed);
        Assert.Equal("no wrong reject", check.Name);
        Assert.Contains("1 by region b", check.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(3L, 0L, false)]
    [InlineData(0L, 2L, false)]
    [InlineData(0L, 0L, true)]
    public void Complete_AcknowledgedAccountingMissing_Fails(long afterRejoin, long atEnd, bool passes)
    {
        var report = Report("kill-region");
        report.FaultAt = 10;
        report.Rpo.Add(new RpoMeasurement("acme@a", 40, 0, 0, 0, null));
        report.MissingAfterRejoin = afterRejoin;
        report.MissingAtEnd = atEnd;

        report.Complete([Login("b", 12, RadiusCode.AccessAccept)], [], new Dictionary<int, double>(), [], Options());

        Assert.Equal(passes, report.Checks.Single(c => c.Name == "no acknowledged accounting lost").Passed);
    }

    [Fact]
    public void Complete_SwitchoverThatLostARequest_FailsItsRpoZero()
    {
        var report = Report("switchover");
        report.FaultAt = 10;
        report.Rpo.Add(new RpoMeasurement("acme@a", 40, 1, 0.002, 0, null));

        report.Complete([Login("a", 1, RadiusCode.AccessAccept)], [], new Dictionary<int, double>(), [], Options());

        Assert.False(report.Checks.Single(c => c.Name == "switchover RPO 0").Passed);
        Assert.DoesNotContain(report.Checks, c => c.Name.StartsWith("RTO", StringComparison.Ordinal));
    }

    [Fact]
    public void Complete_NoAcceptThroughTheBackup_FailsTheRto()
    {
        var report = Report("kill-region");
        report.FaultAt = 10;
        report.Rpo.Add(new RpoMeasurement("acme@a", 40, 0, 0, 0, null));
        report.MissingAfterRejoin = 0;

        report.Complete([Login("a", 1, RadiusCode.AccessAccept)], [], new Dictionary<int, double>(), [], Options());

        Assert.Null(report.RtoBackupSeconds);
        Assert.False(report.Checks.Single(c => c.Name.StartsWith("RTO", StringComparison.Ordinal)).Passed);
    }

    private static DrillReport Report(string scenario) => new()
    {
        Scenario = scenario,
        Region = "a",
        Standby = "b",
        Shards = ["acme@a"],
        Nas = ["acme-bng-a"],
        RunId = "test",
        StartedAt = DateTimeOffset.UnixEpoch,
        Promotion = "manual",
        LoginsPerSecond = 1,
        AccountingPerSecond = 4,
        Interims = 2,
        MaxRtoSeconds = 10,
        MaxRpoSeconds = 1,
        CheckLedgerExit = 0,
        VerifyExit = 0,
    };

    private static DrillOptions Options() => new(DrillScenario.KillRegion, "a", 4, 1, TimeSpan.FromSeconds(30), false, "out");

    private static DrillRequest Login(string region, double at, RadiusCode code) =>
        new(RequestKind.Login, "acme-bng-a", "acme-a-000001", "s", 0, at - 0.01) { AnsweredAt = at, AnsweredBy = region, Code = (byte)code, Sends = 1 };

    private static DrillRequest Acct(string region, double at) =>
        new(RequestKind.Start, "acme-bng-a", "acme-a-000001", "s", 0, at - 0.01) { AnsweredAt = at, AnsweredBy = region, Code = (byte)RadiusCode.AccountingResponse, Sends = 1 };
}
