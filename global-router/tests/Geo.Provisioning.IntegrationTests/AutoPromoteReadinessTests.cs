using Geo.Directory.Shards;
using Geo.Provisioning.Recovery;
using Geo.Replication.Promotion;

namespace Geo.Provisioning.IntegrationTests;

/// <summary>
/// When a standby may be promoted automatically: seeded, the loss it would cause estimable and within
/// <c>Dr:MaxAutoPromoteLag</c>, and its stream live when the owner renewed its lease last. (Pure logic, no engine.)
/// </summary>
public sealed class AutoPromoteReadinessTests
{
    private static readonly DateTimeOffset Renewed = new(2026, 12, 6, 12, 0, 0, TimeSpan.Zero);
    private static readonly OwnerLease Lease = new(new ShardKey("acme", "a"), "a", 1, Renewed.AddSeconds(4), Renewed);
    private static readonly AutoPromoteOptions Settings = new() { AutoPromote = true, MaxAutoPromoteLag = TimeSpan.FromSeconds(10) };

    [Fact]
    public void Unready_CaughtUpAndHeardAtTheLoss_MayBePromoted()
    {
        Assert.Null(AutoPromoter.Unready(Position(applied: "0/100", heard: "0/100", heardAt: Renewed.AddSeconds(-1)), Lease, Settings));
    }

    [Fact]
    public void Unready_NeverSeeded_Refused()
    {
        Assert.Contains("never seeded", AutoPromoter.Unready(null, Lease, Settings), StringComparison.Ordinal);
    }

    [Fact]
    public void Unready_NoHeardPosition_RefusedAsNotEstimable()
    {
        Assert.Contains("cannot be estimated", AutoPromoter.Unready(Position(applied: "0/100", heard: null, heardAt: Renewed), Lease, Settings), StringComparison.Ordinal);
    }

    [Fact]
    public void Unready_HeardCommitsSpanningMoreThanTheLimitUnapplied_Refused()
    {
        var behind = Position(applied: "0/100", heard: "0/9000", heardAt: Renewed, appliedCommit: Renewed.AddSeconds(-30), heardSource: Renewed);

        Assert.Contains("30.0 s of commits", AutoPromoter.Unready(behind, Lease, Settings), StringComparison.Ordinal);
    }

    [Fact]
    public void Unready_StreamSilentLongBeforeTheLoss_Refused()
    {
        var stale = Position(applied: "0/100", heard: "0/100", heardAt: Renewed.AddMinutes(-5));

        Assert.Contains("last heard the owner", AutoPromoter.Unready(stale, Lease, Settings), StringComparison.Ordinal);
        Assert.Null(AutoPromoter.Unready(stale, Lease, new AutoPromoteOptions { MaxAutoPromoteLag = TimeSpan.FromMinutes(6) }));
    }

    [Fact]
    public void Covers_GlobalOrListedTenant()
    {
        Assert.True(new AutoPromoteOptions { AutoPromote = true }.Covers("acme"));
        var listed = new AutoPromoteOptions();
        listed.AutoPromoteTenants.Add("zenith");
        Assert.True(listed.Enabled);
        Assert.True(listed.Covers("zenith"));
        Assert.False(listed.Covers("acme"));
        Assert.False(new AutoPromoteOptions().Enabled);
    }

    private static ReplicaPosition Position(string applied, string? heard, DateTimeOffset heardAt, DateTimeOffset? appliedCommit = null, DateTimeOffset? heardSource = null) =>
        new("pgoutput:geo_acme_a_to_b", applied, appliedCommit ?? Renewed.AddSeconds(-2), heard, heardSource ?? heardAt, heardAt, 10, null);
}
