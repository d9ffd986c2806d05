using System.Net;
using static Geo.Radius.Tests.TestData;

namespace Geo.Radius.Tests;

public sealed class RadiusRequestKeyTests
{
    private static readonly IPEndPoint Nas = new(IPAddress.Parse("192.0.2.10"), 50_000);

    private static RadiusPacket Request(byte identifier, byte authenticatorSeed)
    {
        byte[] authenticator = Enumerable.Repeat(authenticatorSeed, 16).ToArray();
        RadiusPacket.TryRead(Packet(1, identifier, authenticator, Attribute(1, Ascii("u"))), out var packet);
        return packet;
    }

    [Fact]
    public void Create_Retransmission_GivesEqualKey()
    {
        var first = RadiusRequestKey.Create(Nas, Request(5, 1));
        var retransmitted = RadiusRequestKey.Create(new IPEndPoint(IPAddress.Parse("192.0.2.10"), 50_000), Request(5, 1));

        Assert.Equal(first, retransmitted);
        Assert.Equal(first.GetHashCode(), retransmitted.GetHashCode());
    }

    [Fact]
    public void Create_ReusedIdentifierWithNewAuthenticator_GivesDifferentKey()
    {
        Assert.NotEqual(RadiusRequestKey.Create(Nas, Request(5, 1)), RadiusRequestKey.Create(Nas, Request(5, 2)));
    }

    [Fact]
    public void Create_OtherSourcePortOrAddress_GivesDifferentKey()
    {
        var key = RadiusRequestKey.Create(Nas, Request(5, 1));

        Assert.NotEqual(key, RadiusRequestKey.Create(new IPEndPoint(Nas.Address, 50_001), Request(5, 1)));
        Assert.NotEqual(key, RadiusRequestKey.Create(new IPEndPoint(IPAddress.Parse("192.0.2.11"), 50_000), Request(5, 1)));
        Assert.NotEqual(key, RadiusRequestKey.Create(Nas, Request(6, 1)));
    }

    [Fact]
    public void Create_Authenticator_IsReadBigEndian()
    {
        byte[] authenticator = new byte[16];
        authenticator[15] = 1;
        RadiusPacket.TryRead(Packet(4, 1, authenticator, []), out var packet);

        Assert.Equal(UInt128.One, RadiusRequestKey.Create(Nas, packet).RequestAuthenticator);
    }
}
