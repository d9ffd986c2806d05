using Geo.RegionNode.Caching;

namespace Geo.RegionNode.Tests;

public sealed class AuthProfileTests
{
    [Fact]
    public void Serialize_ThenDeserialize_SameProfile()
    {
        var profile = new AuthProfile(Guid.NewGuid(), "fiber-500", true, new DateTimeOffset(2027, 1, 2, 3, 4, 5, TimeSpan.Zero), [1, 2, 3, 4],
            System.Net.IPAddress.Parse("100.64.1.2"));

        var copy = AuthProfile.Deserialize(profile.Serialize())!;

        Assert.Equal(profile.Id, copy.Id);
        Assert.Equal(profile.PlanId, copy.PlanId);
        Assert.Equal(profile.Suspended, copy.Suspended);
        Assert.Equal(profile.ValidUntil, copy.ValidUntil);
        Assert.Equal(profile.SealedPassword, copy.SealedPassword);
        Assert.Equal(profile.FramedIp, copy.FramedIp);
    }

    [Fact]
    public void Deserialize_NoValidity_Null()
    {
        var copy = AuthProfile.Deserialize(new AuthProfile(Guid.NewGuid(), "p", false, null, [9]).Serialize())!;
        Assert.Null(copy.ValidUntil);
    }

    [Fact]
    public void Deserialize_GarbageOrTruncated_NullNeverThrows()
    {
        var valid = new AuthProfile(Guid.NewGuid(), "home-50", false, null, [1, 2, 3]).Serialize();
        for (var length = 0; length < 40 + "home-50".Length; length++)
        {
            Assert.Null(AuthProfile.Deserialize(valid.AsSpan(0, length)));
        }

        var random = new Random(7);
        for (var i = 0; i < 10_000; i++)
        {
            var bytes = new byte[random.Next(0, 80)];
            random.NextBytes(bytes);
            _ = AuthProfile.Deserialize(bytes);
        }
    }
}
