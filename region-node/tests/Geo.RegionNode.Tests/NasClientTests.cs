using System.Net;
using System.Text;
using Geo.RegionNode.Shards;

namespace Geo.RegionNode.Tests;

/// <summary>A NAS secret rotation: the previous secret is tried only until its overlap window ends.</summary>
public sealed class NasClientTests
{
    private static readonly DateTimeOffset Expiry = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void SecretCount_DuringOverlap_CurrentThenPrevious()
    {
        var nas = Rotating();

        Assert.Equal(2, nas.SecretCount(Expiry.AddSeconds(-1)));
        Assert.Equal("new-secret", Encoding.UTF8.GetString(nas.Secret(0)));
        Assert.Equal("old-secret", Encoding.UTF8.GetString(nas.Secret(1)));
    }

    [Fact]
    public void SecretCount_AtAndAfterExpiry_OnlyCurrent()
    {
        var nas = Rotating();

        Assert.Equal(1, nas.SecretCount(Expiry));
        Assert.Equal(1, nas.SecretCount(Expiry.AddDays(1)));
    }

    [Fact]
    public void SecretCount_RotationFinished_OnlyCurrent()
    {
        var nas = new NasClient("t", "nas-1", IPAddress.Loopback, "new-secret"u8.ToArray(), null, null, "generic", 3799, true);

        Assert.Equal(1, nas.SecretCount(Expiry.AddDays(-1)));
    }

    private static NasClient Rotating() =>
        new("t", "nas-1", IPAddress.Loopback, "new-secret"u8.ToArray(), "old-secret"u8.ToArray(), Expiry, "generic", 3799, true);
}
