using Geo.Radius.Dictionary;
using Geo.Radius.Security;
using static Geo.Radius.Tests.TestData;

namespace Geo.Radius.Tests;

public sealed class MessageAuthenticatorTests
{
    private static readonly byte[] Secret = "nas-secret"u8.ToArray();
    private static readonly byte[] RequestAuthenticator = Hex("a1a2a3a4a5a6a7a8a9aaabacadaeafb0");

    private static byte[] SignedAccessRequest()
    {
        byte[] buffer = new byte[4096];
        var writer = new RadiusPacketWriter(buffer, RadiusCode.AccessRequest, 42, RequestAuthenticator);
        writer.AddMessageAuthenticator();
        writer.AddString(RadiusAttributeType.UserName, "carol");
        writer.AddAttribute(RadiusAttributeType.EapMessage, [2, 1, 0, 10, 1, 99, 97, 114, 111, 108]);
        return buffer[..writer.FinishRequest(Secret)];
    }

    private static byte[] SignedAccessAccept()
    {
        byte[] buffer = new byte[4096];
        var writer = new RadiusPacketWriter(buffer, RadiusCode.AccessAccept, 42);
        writer.AddMessageAuthenticator();
        writer.AddVendorString(RadiusVendorId.Mikrotik, MikrotikAttributeType.RateLimit, "5M/5M");
        return buffer[..writer.FinishResponse(RequestAuthenticator, Secret)];
    }

    [Fact]
    public void Verify_SignedRequest_ReturnsValid()
    {
        Assert.Equal(MessageAuthenticatorStatus.Valid, MessageAuthenticator.Verify(SignedAccessRequest(), Secret));
    }

    [Fact]
    public void Verify_WrongSecret_ReturnsInvalid()
    {
        Assert.Equal(MessageAuthenticatorStatus.Invalid, MessageAuthenticator.Verify(SignedAccessRequest(), "nas-secreT"u8));
    }

    [Fact]
    public void Verify_AnyByteOfRequestChanged_IsNotValid()
    {
        byte[] packet = SignedAccessRequest();
        for (int i = 0; i < packet.Length; i++)
        {
            byte[] tampered = (byte[])packet.Clone();
            tampered[i] ^= 0x80;

            Assert.NotEqual(MessageAuthenticatorStatus.Valid, MessageAuthenticator.Verify(tampered, Secret));
        }
    }

    [Fact]
    public void Verify_AnyByteOfResponseChanged_IsNotValid()
    {
        byte[] packet = SignedAccessAccept();
        Assert.Equal(MessageAuthenticatorStatus.Valid, MessageAuthenticator.Verify(packet, Secret, RequestAuthenticator));
        for (int i = 0; i < packet.Length; i++)
        {
            if (i is >= 4 and < 20)
            {
                continue; // the Response Authenticator is not covered by the HMAC (RFC 3579 §3.2), it covers the HMAC
            }

            byte[] tampered = (byte[])packet.Clone();
            tampered[i] ^= 0x01;

            Assert.NotEqual(MessageAuthenticatorStatus.Valid, MessageAuthenticator.Verify(tampered, Secret, RequestAuthenticator));
            Assert.False(RadiusAuthenticator.VerifyResponseAuthenticator(tampered, RequestAuthenticator, Secret));
        }
    }

    [Fact]
    public void Verify_ResponseWithOtherRequestAuthenticator_ReturnsInvalid()
    {
        byte[] other = (byte[])RequestAuthenticator.Clone();
        other[15] ^= 1;

        Assert.Equal(MessageAuthenticatorStatus.Invalid, MessageAuthenticator.Verify(SignedAccessAccept(), Secret, other));
    }

    [Fact]
    public void Verify_ResponseWithoutRequestAuthenticator_ReturnsInvalid()
    {
        Assert.Equal(MessageAuthenticatorStatus.Invalid, MessageAuthenticator.Verify(SignedAccessAccept(), Secret));
    }

    [Fact]
    public void Verify_NoMessageAuthenticator_ReturnsAbsent()
    {
        byte[] packet = Packet(1, 1, RequestAuthenticator, Attribute(1, Ascii("dave")));

        Assert.Equal(MessageAuthenticatorStatus.Absent, MessageAuthenticator.Verify(packet, Secret));
    }

    [Fact]
    public void Verify_MessageAuthenticatorOfWrongLength_ReturnsInvalid()
    {
        byte[] packet = Packet(1, 1, RequestAuthenticator, Attribute(80, new byte[15]));

        Assert.Equal(MessageAuthenticatorStatus.Invalid, MessageAuthenticator.Verify(packet, Secret));
    }

    [Fact]
    public void Verify_TwoMessageAuthenticators_ReturnsInvalid()
    {
        byte[] packet = Packet(1, 1, RequestAuthenticator, Concat(Attribute(80, new byte[16]), Attribute(80, new byte[16])));

        Assert.Equal(MessageAuthenticatorStatus.Invalid, MessageAuthenticator.Verify(packet, Secret));
    }

    [Fact]
    public void Verify_MalformedPacket_ReturnsInvalid()
    {
        Assert.Equal(MessageAuthenticatorStatus.Invalid, MessageAuthenticator.Verify([1, 2, 3], Secret));
        Assert.Equal(MessageAuthenticatorStatus.Invalid, MessageAuthenticator.Verify(default(RadiusPacket), Secret));
    }

    [Fact]
    public void TrySign_ProxyResignsUnderNewSecret_VerifiesWithNewSecretOnly()
    {
        byte[] packet = SignedAccessRequest();
        byte[] proxySecret = "region-b-secret"u8.ToArray();

        Assert.True(MessageAuthenticator.TrySign(packet, proxySecret));

        Assert.Equal(MessageAuthenticatorStatus.Valid, MessageAuthenticator.Verify(packet, proxySecret));
        Assert.Equal(MessageAuthenticatorStatus.Invalid, MessageAuthenticator.Verify(packet, Secret));
    }

    [Fact]
    public void TrySign_PacketWithoutMessageAuthenticator_ReturnsFalse()
    {
        byte[] packet = Packet(1, 1, RequestAuthenticator, Attribute(1, Ascii("erin")));

        Assert.False(MessageAuthenticator.TrySign(packet, Secret));
    }
}
