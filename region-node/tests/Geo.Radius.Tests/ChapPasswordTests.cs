using System.Security.Cryptography;
using Geo.Radius.Dictionary;
using Geo.Radius.Security;
using static Geo.Radius.Tests.TestData;

namespace Geo.Radius.Tests;

public sealed class ChapPasswordTests
{
    private static readonly byte[] Challenge = Hex("c0ffee00112233445566778899aabbccdd");

    private static byte[] ChapValue(byte identifier, byte[] password, byte[] challenge) =>
        Concat([identifier], MD5.HashData(Concat([identifier], password, challenge)));

    [Fact]
    public void Verify_ChapChallengeAttribute_UsesItAsChallenge()
    {
        byte[] request = Packet(1, 1, new byte[16], Concat(
            Attribute(1, Ascii("grace")),
            Attribute(3, ChapValue(7, Ascii("hopper"), Challenge)),
            Attribute(60, Challenge)));
        RadiusPacket.TryRead(request, out var packet);

        Assert.Equal(ChapStatus.Valid, ChapPassword.Verify(packet, "hopper"u8));
        Assert.Equal(ChapStatus.Invalid, ChapPassword.Verify(packet, "Hopper"u8));
    }

    [Fact]
    public void Verify_NoChapChallenge_UsesRequestAuthenticator()
    {
        byte[] authenticator = Hex("000102030405060708090a0b0c0d0e0f");
        byte[] request = Packet(1, 1, authenticator, Attribute(3, ChapValue(200, Ascii("secret-pw"), authenticator)));
        RadiusPacket.TryRead(request, out var packet);

        Assert.Equal(ChapStatus.Valid, ChapPassword.Verify(packet, "secret-pw"u8));
    }

    [Fact]
    public void Verify_NoChapPassword_ReturnsAbsent()
    {
        RadiusPacket.TryRead(Packet(1, 1, new byte[16], Attribute(1, Ascii("x"))), out var packet);

        Assert.Equal(ChapStatus.Absent, ChapPassword.Verify(packet, "pw"u8));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(16)]
    [InlineData(18)]
    public void Verify_ChapPasswordNot17Octets_ReturnsMalformed(int length)
    {
        RadiusPacket.TryRead(Packet(1, 1, new byte[16], Attribute(3, new byte[length])), out var packet);

        Assert.Equal(ChapStatus.Malformed, ChapPassword.Verify(packet, "pw"u8));
    }

    [Fact]
    public void ComputeResponse_MatchesMd5OfIdentPasswordChallenge()
    {
        Span<byte> response = stackalloc byte[16];

        ChapPassword.ComputeResponse(9, "pw"u8, Challenge, response);

        Assert.Equal(MD5.HashData(Concat([9], Ascii("pw"), Challenge)), response.ToArray());
    }

    [Fact]
    public void Verify_WriterBuiltChapRequest_ReturnsValid()
    {
        Span<byte> response = stackalloc byte[17];
        response[0] = 33;
        ChapPassword.ComputeResponse(33, "from-writer"u8, Challenge, response[1..]);
        byte[] buffer = new byte[4096];
        var writer = new RadiusPacketWriter(buffer, RadiusCode.AccessRequest, 4);
        writer.AddAttribute(RadiusAttributeType.ChapPassword, response);
        writer.AddAttribute(RadiusAttributeType.ChapChallenge, Challenge);
        int length = writer.FinishRequest("s"u8);

        RadiusPacket.TryRead(buffer.AsSpan(0, length), out var packet);

        Assert.Equal(ChapStatus.Valid, ChapPassword.Verify(packet, "from-writer"u8));
    }
}
