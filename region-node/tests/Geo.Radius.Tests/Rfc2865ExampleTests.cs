using System.Net;
using Geo.Radius.Dictionary;
using Geo.Radius.Security;
using static Geo.Radius.Tests.TestData;

namespace Geo.Radius.Tests;

/// <summary>
/// The worked examples of RFC 2865 §7 (shared secret "xyzzy5461"). The RFC text itself could not be retrieved
/// here; the hex dumps were transcribed from several independent open-source RADIUS test suites that quote it
/// (Go layeh/radius, PHP, Erlang sigscale/ocs, Rust), which agree byte for byte, and cross-checked: each
/// Response Authenticator below verifies under an MD5 computed outside this codec over exactly these bytes.
/// Known errata (RFC 2865 errata 1469): in §7.2 the Access-Accept dump carries Framed-Routing 2 where the prose
/// says None, and in §7.3 the second Access-Request dump gives State a Length of 0x10 where 0x0a is meant.
/// </summary>
public sealed class Rfc2865ExampleTests
{
    // §7.1 User Telnet to Specified Host: user "nemo", password "arctangent", NAS 192.168.1.16 port 3.
    private static readonly byte[] PapRequest = Hex("""
        01 00 00 38 0f 40 3f 94 73 97 80 57 bd 83 d5 cb
        98 f4 22 7a 01 06 6e 65 6d 6f 02 12 0d be 70 8d
        93 d4 13 ce 31 96 e4 3f 78 2a 0a ee 04 06 c0 a8
        01 10 05 06 00 00 00 03
        """);

    private static readonly byte[] PapAccept = Hex("""
        02 00 00 26 86 fe 22 0e 76 24 ba 2a 10 05 f6 bf
        9b 55 e0 b2 06 06 00 00 00 01 0f 06 00 00 00 00
        0e 06 c0 a8 01 03
        """);

    // §7.2 Framed User Authenticating with CHAP: user "flopsy", CHAP ident 0x16, NAS port 20, Framed-User, PPP.
    private static readonly byte[] ChapRequest = Hex("""
        01 01 00 47 2a ee 86 f0 8d 0d 55 96 9c a5 97 8e
        0d 33 67 a2 01 08 66 6c 6f 70 73 79 03 13 16 e9
        75 57 c3 16 18 58 95 f2 93 ff 63 44 07 72 75 04
        06 c0 a8 01 10 05 06 00 00 00 14 06 06 00 00 00
        02 07 06 00 00 00 01
        """);

    private static readonly byte[] ChapAccept = Hex("""
        02 01 00 38 15 ef bc 7d ab 26 cf a3 dc 34 d9 c0
        3c 86 01 a4 06 06 00 00 00 02 07 06 00 00 00 01
        08 06 ff ff ff fe 0a 06 00 00 00 02 0d 06 00 00
        00 01 0c 06 00 00 05 dc
        """);

    // §7.3 User with Challenge-Response card: user "mopsy", password "challenge", NAS port 7.
    private static readonly byte[] ChallengeRequest = Hex("""
        01 02 00 39 f3 a4 7a 1f 6a 6d 76 71 0b 94 7a b9
        30 41 a0 39 01 07 6d 6f 70 73 79 02 12 33 65 75
        73 77 82 89 b5 70 88 5e 15 08 48 25 c5 04 06 c0
        a8 01 10 05 06 00 00 00 07
        """);

    private static readonly byte[] Challenge = Hex("""
        0b 02 00 4e 36 f3 c8 76 4a e8 c7 11 57 40 3c 0c
        71 ff 9c 45 12 30 43 68 61 6c 6c 65 6e 67 65 20
        33 32 37 36 39 34 33 30 2e 20 20 45 6e 74 65 72
        20 72 65 73 70 6f 6e 73 65 20 61 74 20 70 72 6f
        6d 70 74 2e 18 0a 33 32 37 36 39 34 33 30
        """);

    // The second Access-Request exactly as the RFC prints it (State Length 0x10: the erratum).
    private static readonly byte[] ChallengeAnswerAsPrinted = Hex("""
        01 03 00 43 b1 22 55 6d 42 8a 13 d0 d6 25 38 07
        c4 57 ec f0 01 07 6d 6f 70 73 79 02 12 69 2c 1f
        20 5f c0 81 b9 19 b9 51 95 f5 61 a5 81 04 06 c0
        a8 01 10 05 06 00 00 00 07 18 10 33 32 37 36 39
        34 33 30
        """);

    private static readonly byte[] ChallengeReject = Hex("""
        03 03 00 14 a4 2f 4f ca 45 91 6c 4e 09 c8 34 0f
        9e 74 6a a0
        """);

    private static byte[] ChallengeAnswer
    {
        get
        {
            byte[] corrected = (byte[])ChallengeAnswerAsPrinted.Clone();
            corrected[0x3a] = 0x0a;
            return corrected;
        }
    }

    [Fact]
    public void TryRead_PapExampleRequest_ReadsAttributes()
    {
        Assert.Equal(RadiusReadStatus.Ok, RadiusPacket.TryRead(PapRequest, out var request));

        Assert.Equal(RadiusCode.AccessRequest, request.Code);
        Assert.Equal(0, request.Identifier);
        Assert.Equal(56, request.Length);
        Assert.True(request.TryGetString(RadiusAttributeType.UserName, out string? userName));
        Assert.Equal("nemo", userName);
        Assert.True(request.TryGetIPv4Address(RadiusAttributeType.NasIpAddress, out var nas));
        Assert.Equal(IPAddress.Parse("192.168.1.16"), nas);
        Assert.True(request.TryGetUInt32(RadiusAttributeType.NasPort, out uint port));
        Assert.Equal(3u, port);

        int count = 0;
        foreach (var attribute in request.Attributes)
        {
            count++;
            Assert.Contains(attribute.Type, new byte[] { 1, 2, 4, 5 });
        }

        Assert.Equal(4, count);
    }

    [Fact]
    public void TryRecover_PapExampleRequest_ReturnsArctangent()
    {
        RadiusPacket.TryRead(PapRequest, out var request);
        Span<byte> password = stackalloc byte[128];

        var status = UserPassword.TryRecover(request, RfcSecret, password, out int written);

        Assert.Equal(UserPasswordStatus.Ok, status);
        Assert.Equal("arctangent"u8.ToArray(), password[..written].ToArray());
    }

    [Fact]
    public void TryRecover_PapExampleWithWrongSecret_DoesNotReturnArctangent()
    {
        RadiusPacket.TryRead(PapRequest, out var request);
        Span<byte> password = stackalloc byte[128];

        UserPassword.TryRecover(request, "xyzzy5462"u8, password, out int written);

        Assert.NotEqual("arctangent"u8.ToArray(), password[..written].ToArray());
    }

    [Fact]
    public void FinishRequest_PapExampleAttributes_ReproducesRfcBytes()
    {
        byte[] buffer = new byte[4096];
        var writer = new RadiusPacketWriter(buffer, RadiusCode.AccessRequest, 0, PapRequest.AsSpan(4, 16));
        writer.AddString(RadiusAttributeType.UserName, "nemo");
        writer.AddUserPassword("arctangent"u8, RfcSecret);
        writer.AddIPv4Address(RadiusAttributeType.NasIpAddress, IPAddress.Parse("192.168.1.16"));
        writer.AddUInt32(RadiusAttributeType.NasPort, 3);

        int length = writer.FinishRequest(RfcSecret);

        Assert.Equal(PapRequest, buffer[..length]);
    }

    [Fact]
    public void TryRead_PapExampleAccept_ReadsAttributes()
    {
        Assert.Equal(RadiusReadStatus.Ok, RadiusPacket.TryRead(PapAccept, out var accept));

        Assert.Equal(RadiusCode.AccessAccept, accept.Code);
        Assert.True(accept.TryGetUInt32(RadiusAttributeType.ServiceType, out uint serviceType));
        Assert.Equal((uint)ServiceType.LoginUser, serviceType);
        Assert.True(accept.TryGetUInt32(RadiusAttributeType.LoginService, out uint loginService));
        Assert.Equal(0u, loginService);
        Assert.True(accept.TryGetIPv4Address(RadiusAttributeType.LoginIpHost, out var host));
        Assert.Equal(IPAddress.Parse("192.168.1.3"), host);
    }

    [Fact]
    public void VerifyResponseAuthenticator_PapExampleAccept_ReturnsTrue()
    {
        Assert.True(RadiusAuthenticator.VerifyResponseAuthenticator(PapAccept, PapRequest.AsSpan(4, 16), RfcSecret));
        Assert.False(RadiusAuthenticator.VerifyResponseAuthenticator(PapAccept, ChapRequest.AsSpan(4, 16), RfcSecret));
        Assert.False(RadiusAuthenticator.VerifyResponseAuthenticator(PapAccept, PapRequest.AsSpan(4, 16), "xyzzy5462"u8));
    }

    [Fact]
    public void FinishResponse_PapExampleAttributes_ReproducesRfcBytes()
    {
        RadiusPacket.TryRead(PapRequest, out var request);
        byte[] buffer = new byte[4096];
        var writer = new RadiusPacketWriter(buffer, RadiusCode.AccessAccept, request.Identifier);
        writer.AddUInt32(RadiusAttributeType.ServiceType, (uint)ServiceType.LoginUser);
        writer.AddUInt32(RadiusAttributeType.LoginService, 0);
        writer.AddIPv4Address(RadiusAttributeType.LoginIpHost, IPAddress.Parse("192.168.1.3"));

        int length = writer.FinishResponse(request, RfcSecret);

        Assert.Equal(PapAccept, buffer[..length]);
    }

    [Fact]
    public void TryRead_ChapExampleRequest_ReadsAttributes()
    {
        Assert.Equal(RadiusReadStatus.Ok, RadiusPacket.TryRead(ChapRequest, out var request));

        Assert.Equal(1, request.Identifier);
        Assert.True(request.TryGetString(RadiusAttributeType.UserName, out string? userName));
        Assert.Equal("flopsy", userName);
        Assert.True(request.TryGetAttribute(RadiusAttributeType.ChapPassword, out var chapPassword));
        Assert.Equal(17, chapPassword.Length);
        Assert.Equal(0x16, chapPassword[0]);
        Assert.False(request.ContainsAttribute(RadiusAttributeType.ChapChallenge));
        Assert.True(request.TryGetUInt32(RadiusAttributeType.NasPort, out uint port));
        Assert.Equal(20u, port);
        Assert.True(request.TryGetUInt32(RadiusAttributeType.ServiceType, out uint serviceType));
        Assert.Equal((uint)ServiceType.FramedUser, serviceType);
        Assert.True(request.TryGetUInt32(RadiusAttributeType.FramedProtocol, out uint protocol));
        Assert.Equal((uint)FramedProtocol.Ppp, protocol);
    }

    // The §7.2 dump carries no CHAP-Challenge, so the Request Authenticator is the challenge. The response in the
    // dump equals MD5(0x16 + "arctangent" + Request Authenticator), checked outside this codec: the example's
    // CHAP password is the same "arctangent" as §7.1's.
    [Fact]
    public void Verify_ChapExampleWithArctangent_ReturnsValid()
    {
        RadiusPacket.TryRead(ChapRequest, out var request);

        Assert.Equal(ChapStatus.Valid, ChapPassword.Verify(request, "arctangent"u8));
        Assert.Equal(ChapStatus.Invalid, ChapPassword.Verify(request, "arctangenT"u8));
    }

    [Fact]
    public void TryRead_ChapExampleAccept_ReadsFramedAttributes()
    {
        Assert.Equal(RadiusReadStatus.Ok, RadiusPacket.TryRead(ChapAccept, out var accept));

        Assert.True(accept.TryGetUInt32(RadiusAttributeType.ServiceType, out uint serviceType));
        Assert.Equal((uint)ServiceType.FramedUser, serviceType);
        Assert.True(accept.TryGetUInt32(RadiusAttributeType.FramedProtocol, out uint protocol));
        Assert.Equal((uint)FramedProtocol.Ppp, protocol);
        Assert.True(accept.TryGetIPv4Address(RadiusAttributeType.FramedIpAddress, out var address));
        Assert.Equal(IPAddress.Parse("255.255.255.254"), address);
        Assert.True(accept.TryGetUInt32(RadiusAttributeType.FramedRouting, out uint routing));
        Assert.Equal((uint)FramedRouting.Listen, routing); // the dump's value; the prose says None (erratum)
        Assert.True(accept.TryGetUInt32(RadiusAttributeType.FramedCompression, out uint compression));
        Assert.Equal((uint)FramedCompression.VanJacobsonTcpIp, compression);
        Assert.True(accept.TryGetUInt32(RadiusAttributeType.FramedMtu, out uint mtu));
        Assert.Equal(1500u, mtu);
    }

    [Fact]
    public void VerifyResponseAuthenticator_ChapExampleAccept_ReturnsTrue()
    {
        Assert.True(RadiusAuthenticator.VerifyResponseAuthenticator(ChapAccept, ChapRequest.AsSpan(4, 16), RfcSecret));
    }

    [Fact]
    public void TryRead_ChallengeExample_ReadsReplyMessageAndState()
    {
        Assert.Equal(RadiusReadStatus.Ok, RadiusPacket.TryRead(ChallengeRequest, out var request));
        Assert.Equal(RadiusReadStatus.Ok, RadiusPacket.TryRead(Challenge, out var challenge));
        Span<byte> password = stackalloc byte[128];

        Assert.Equal(UserPasswordStatus.Ok, UserPassword.TryRecover(request, RfcSecret, password, out int written));
        Assert.Equal("challenge"u8.ToArray(), password[..written].ToArray());
        Assert.Equal(RadiusCode.AccessChallenge, challenge.Code);
        Assert.True(challenge.TryGetString(RadiusAttributeType.ReplyMessage, out string? message));
        Assert.Equal("Challenge 32769430.  Enter response at prompt.", message);
        Assert.True(challenge.TryGetAttribute(RadiusAttributeType.State, out var state));
        Assert.Equal("32769430"u8.ToArray(), state.ToArray());
        Assert.True(RadiusAuthenticator.VerifyResponseAuthenticator(challenge, request.Authenticator, RfcSecret));
    }

    [Fact]
    public void FinishResponse_ChallengeExampleAttributes_ReproducesRfcBytes()
    {
        RadiusPacket.TryRead(ChallengeRequest, out var request);
        byte[] buffer = new byte[4096];
        var writer = new RadiusPacketWriter(buffer, RadiusCode.AccessChallenge, request.Identifier);
        writer.AddString(RadiusAttributeType.ReplyMessage, "Challenge 32769430.  Enter response at prompt.");
        writer.AddAttribute(RadiusAttributeType.State, "32769430"u8);

        int length = writer.FinishResponse(request, RfcSecret);

        Assert.Equal(Challenge, buffer[..length]);
    }

    [Fact]
    public void TryRead_ChallengeAnswerAsPrintedInRfc_ReturnsBadAttributeLength()
    {
        Assert.Equal(RadiusReadStatus.BadAttributeLength, RadiusPacket.TryRead(ChallengeAnswerAsPrinted, out var packet));
        Assert.True(packet.IsEmpty);
    }

    // The response the user typed is not in this test's source material as prose; the value below is the one the
    // Erlang sigscale/ocs transcription asserts, and it recovers with exact NUL padding.
    [Fact]
    public void TryRecover_CorrectedChallengeAnswer_ReturnsCardResponse()
    {
        Assert.Equal(RadiusReadStatus.Ok, RadiusPacket.TryRead(ChallengeAnswer, out var answer));
        Span<byte> password = stackalloc byte[128];

        Assert.Equal(UserPasswordStatus.Ok, UserPassword.TryRecover(answer, RfcSecret, password, out int written));
        Assert.Equal("99101462"u8.ToArray(), password[..written].ToArray());
        Assert.True(answer.TryGetAttribute(RadiusAttributeType.State, out var state));
        Assert.Equal("32769430"u8.ToArray(), state.ToArray());
    }

    [Fact]
    public void VerifyResponseAuthenticator_ChallengeExampleReject_ReturnsTrue()
    {
        RadiusPacket.TryRead(ChallengeAnswer, out var answer);
        Assert.Equal(RadiusReadStatus.Ok, RadiusPacket.TryRead(ChallengeReject, out var reject));

        Assert.Equal(RadiusCode.AccessReject, reject.Code);
        Assert.Equal(3, reject.Identifier);
        Assert.True(RadiusAuthenticator.VerifyResponseAuthenticator(reject, answer.Authenticator, RfcSecret));

        byte[] buffer = new byte[64];
        var writer = new RadiusPacketWriter(buffer, RadiusCode.AccessReject, answer.Identifier);
        int length = writer.FinishResponse(answer, RfcSecret);
        Assert.Equal(ChallengeReject, buffer[..length]);
    }

    [Fact]
    public void TryHide_PapExamplePassword_MatchesRfcBytes()
    {
        Span<byte> hidden = stackalloc byte[128];

        var status = UserPassword.TryHide("arctangent"u8, RfcSecret, PapRequest.AsSpan(4, 16), hidden, out int written);

        Assert.Equal(UserPasswordStatus.Ok, status);
        Assert.Equal(PapRequest.AsSpan(28, 16).ToArray(), hidden[..written].ToArray());
    }
}
