using System.Buffers;
using System.Net;
using System.Security.Cryptography;
using Geo.Radius.Dictionary;
using Geo.Radius.Security;
using static Geo.Radius.Tests.TestData;

namespace Geo.Radius.Tests;

public sealed class RadiusPacketWriterTests
{
    private static readonly byte[] Secret = "s3cr3t-for-tests"u8.ToArray();

    public static TheoryData<RadiusCode> AllCodes()
    {
        var data = new TheoryData<RadiusCode>();
        foreach (var code in Enum.GetValues<RadiusCode>())
        {
            data.Add(code);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(AllCodes))]
    public void Finish_EveryPacketKind_RoundTripsThroughTryRead(RadiusCode code)
    {
        var random = new Random(2865 + (int)code);
        byte[] requestAuthenticator = new byte[16];
        random.NextBytes(requestAuthenticator);
        byte identifier = (byte)random.Next(256);
        byte[] buffer = new byte[4096];

        var writer = code is RadiusCode.AccessRequest or RadiusCode.StatusServer
            ? new RadiusPacketWriter(buffer, code, identifier, requestAuthenticator)
            : new RadiusPacketWriter(buffer, code, identifier);
        writer.AddMessageAuthenticator();
        writer.AddString(RadiusAttributeType.UserName, "subscriber@tenant");
        writer.AddIPv4Address(RadiusAttributeType.NasIpAddress, IPAddress.Parse("10.1.2.3"));
        writer.AddUInt32(RadiusAttributeType.AcctStatusType, (uint)AcctStatusType.InterimUpdate);
        writer.AddTime(RadiusAttributeType.EventTimestamp, new DateTimeOffset(2025, 1, 31, 12, 0, 0, TimeSpan.Zero));
        writer.AddAttribute(RadiusAttributeType.Class, [1, 2, 3]);
        writer.AddVendorString(RadiusVendorId.Mikrotik, MikrotikAttributeType.RateLimit, "10M/20M");
        writer.AddVendorUInt32(RadiusVendorId.Wispr, WisprAttributeType.BandwidthMaxDown, 20_000_000);
        writer.AddVendorIPv4Address(RadiusVendorId.Juniper, JuniperAttributeType.PrimaryDns, IPAddress.Parse("8.8.8.8"));
        if (code == RadiusCode.AccessRequest)
        {
            writer.AddUserPassword("correct horse battery staple"u8, Secret);
        }

        int length = code.IsRequest() ? writer.FinishRequest(Secret) : writer.FinishResponse(requestAuthenticator, Secret);

        Assert.Equal(RadiusReadStatus.Ok, RadiusPacket.TryRead(buffer.AsMemory(0, length), out var packet));
        Assert.Equal(code, packet.Code);
        Assert.Equal(identifier, packet.Identifier);
        Assert.Equal(length, packet.Length);
        Assert.True(packet.TryGetString(RadiusAttributeType.UserName, out string? name));
        Assert.Equal("subscriber@tenant", name);
        Assert.True(packet.TryGetIPv4Address(RadiusAttributeType.NasIpAddress, out var nas));
        Assert.Equal(IPAddress.Parse("10.1.2.3"), nas);
        Assert.True(packet.TryGetUInt32(RadiusAttributeType.AcctStatusType, out uint statusType));
        Assert.Equal((uint)AcctStatusType.InterimUpdate, statusType);
        Assert.True(packet.TryGetTime(RadiusAttributeType.EventTimestamp, out var time));
        Assert.Equal(new DateTimeOffset(2025, 1, 31, 12, 0, 0, TimeSpan.Zero), time);
        Assert.True(packet.TryGetAttribute(RadiusAttributeType.Class, out var cls));
        Assert.Equal(new byte[] { 1, 2, 3 }, cls.ToArray());
        Assert.True(packet.TryGetVendorString(RadiusVendorId.Mikrotik, MikrotikAttributeType.RateLimit, out string? rate));
        Assert.Equal("10M/20M", rate);
        Assert.True(packet.TryGetVendorUInt32(RadiusVendorId.Wispr, WisprAttributeType.BandwidthMaxDown, out uint down));
        Assert.Equal(20_000_000u, down);
        Assert.True(packet.TryGetVendorAttribute(RadiusVendorId.Juniper, JuniperAttributeType.PrimaryDns, out var dns));
        Assert.Equal(new byte[] { 8, 8, 8, 8 }, dns.ToArray());

        if (code.IsRequest())
        {
            Assert.Equal(MessageAuthenticatorStatus.Valid, MessageAuthenticator.Verify(packet, Secret));
            Assert.Equal(code.HasComputedRequestAuthenticator(), RadiusAuthenticator.VerifyRequestAuthenticator(packet, Secret));
        }
        else
        {
            Assert.Equal(MessageAuthenticatorStatus.Valid, MessageAuthenticator.Verify(packet, Secret, requestAuthenticator));
            Assert.True(RadiusAuthenticator.VerifyResponseAuthenticator(packet, requestAuthenticator, Secret));
            Assert.False(RadiusAuthenticator.VerifyResponseAuthenticator(packet, requestAuthenticator, "other"u8));
        }

        if (code == RadiusCode.AccessRequest)
        {
            Assert.Equal(requestAuthenticator, packet.Authenticator.ToArray());
            Span<byte> password = stackalloc byte[128];
            Assert.Equal(UserPasswordStatus.Ok, UserPassword.TryRecover(packet, Secret, password, out int written));
            Assert.Equal("correct horse battery staple"u8.ToArray(), password[..written].ToArray());
        }
    }

    // Known answer, computed here without the codec: header with 16 zero octets, attributes, MD5 with the secret.
    [Fact]
    public void FinishRequest_AccountingRequest_MatchesHandComputedAuthenticator()
    {
        byte[] attributes = Concat(
            UInt32Attribute(40, 1),
            Attribute(44, Ascii("5F3A0001")),
            Attribute(1, Ascii("alice")),
            UInt32Attribute(42, 123_456),
            UInt32Attribute(52, 2));
        byte[] withZeros = Packet(4, 0x2a, new byte[16], attributes);
        byte[] expectedAuthenticator = MD5.HashData(Concat(withZeros, Secret));
        byte[] expected = Packet(4, 0x2a, expectedAuthenticator, attributes);

        byte[] buffer = new byte[4096];
        var writer = new RadiusPacketWriter(buffer, RadiusCode.AccountingRequest, 0x2a);
        writer.AddUInt32(RadiusAttributeType.AcctStatusType, (uint)AcctStatusType.Start);
        writer.AddString(RadiusAttributeType.AcctSessionId, "5F3A0001");
        writer.AddString(RadiusAttributeType.UserName, "alice");
        writer.AddUInt32(RadiusAttributeType.AcctInputOctets, 123_456);
        writer.AddUInt32(RadiusAttributeType.AcctInputGigawords, 2);
        int length = writer.FinishRequest(Secret);

        Assert.Equal(expected, buffer[..length]);
        Assert.True(RadiusAuthenticator.VerifyRequestAuthenticator(expected, Secret));
        Span<byte> computed = stackalloc byte[16];
        Assert.True(RadiusAuthenticator.TryComputeRequestAuthenticator(expected, Secret, computed));
        Assert.Equal(expectedAuthenticator, computed.ToArray());
    }

    [Fact]
    public void VerifyRequestAuthenticator_AccountingRequestWithWrongSecretOrChangedByte_ReturnsFalse()
    {
        byte[] attributes = Concat(UInt32Attribute(40, 2), Attribute(44, Ascii("s1")));
        byte[] withZeros = Packet(4, 1, new byte[16], attributes);
        byte[] packet = Packet(4, 1, MD5.HashData(Concat(withZeros, Secret)), attributes);

        Assert.True(RadiusAuthenticator.VerifyRequestAuthenticator(packet, Secret));
        Assert.False(RadiusAuthenticator.VerifyRequestAuthenticator(packet, "wrong"u8));
        for (int i = 0; i < packet.Length; i++)
        {
            byte[] tampered = (byte[])packet.Clone();
            tampered[i] ^= 0x01;
            Assert.False(RadiusAuthenticator.VerifyRequestAuthenticator(tampered, Secret), $"byte {i}");
        }
    }

    // RFC 3579 §3.2: the Message-Authenticator of an Access-Request is HMAC-MD5 over the packet as sent, with its own
    // value zeroed; computed here by hand.
    [Fact]
    public void FinishRequest_AccessRequestWithMessageAuthenticator_MatchesHandComputedHmac()
    {
        byte[] authenticator = Hex("00112233445566778899aabbccddeeff");
        byte[] attributes = Concat(Attribute(80, new byte[16]), Attribute(1, Ascii("bob")), UInt32Attribute(5, 7));
        byte[] packet = Packet(1, 9, authenticator, attributes);
        byte[] mac = ReferenceHmac(packet, authenticator, 22, Secret);
        mac.CopyTo(packet, 22);

        byte[] buffer = new byte[4096];
        var writer = new RadiusPacketWriter(buffer, RadiusCode.AccessRequest, 9, authenticator);
        writer.AddMessageAuthenticator();
        writer.AddString(RadiusAttributeType.UserName, "bob");
        writer.AddUInt32(RadiusAttributeType.NasPort, 7);
        int length = writer.FinishRequest(Secret);

        Assert.Equal(packet, buffer[..length]);
        Assert.Equal(MessageAuthenticatorStatus.Valid, MessageAuthenticator.Verify(packet, Secret));
    }

    // RFC 2869 §5.14 / RFC 3579 §3.2: a response's Message-Authenticator is computed with the Request Authenticator in
    // the field, and only then is the Response Authenticator computed over the packet that includes it.
    [Fact]
    public void FinishResponse_AccessAcceptWithMessageAuthenticator_SignsThenComputesResponseAuthenticator()
    {
        byte[] requestAuthenticator = Hex("0f0e0d0c0b0a09080706050403020100");
        byte[] attributes = Concat(Attribute(80, new byte[16]), UInt32Attribute(27, 3600), Attribute(18, Ascii("welcome")));
        byte[] packet = Packet(2, 77, requestAuthenticator, attributes);
        ReferenceHmac(packet, requestAuthenticator, 22, Secret).CopyTo(packet, 22);
        byte[] responseAuthenticator = ReferencePacketMd5(packet, requestAuthenticator, Secret);
        responseAuthenticator.CopyTo(packet, 4);

        byte[] buffer = new byte[4096];
        var writer = new RadiusPacketWriter(buffer, RadiusCode.AccessAccept, 77);
        writer.AddMessageAuthenticator();
        writer.AddUInt32(RadiusAttributeType.SessionTimeout, 3600);
        writer.AddString(RadiusAttributeType.ReplyMessage, "welcome");
        int length = writer.FinishResponse(requestAuthenticator, Secret);

        Assert.Equal(packet, buffer[..length]);
    }

    // RFC 5176 §3.3: for a CoA-Request the Message-Authenticator is computed over sixteen zero octets in the
    // authenticator field, then the Request Authenticator is computed as for accounting.
    [Fact]
    public void FinishRequest_CoARequestWithMessageAuthenticator_MatchesHandComputedValues()
    {
        byte[] zeros = new byte[16];
        byte[] attributes = Concat(
            Attribute(44, Ascii("sess-1")),
            Attribute(80, new byte[16]),
            Attribute(26, Concat([0, 0, 0x3a, 0x8c], [8, 7], Ascii("1M/1M"))));
        byte[] packet = Packet(43, 200, zeros, attributes);
        ReferenceHmac(packet, zeros, 30, Secret).CopyTo(packet, 30);
        ReferencePacketMd5(packet, zeros, Secret).CopyTo(packet, 4);

        byte[] buffer = new byte[4096];
        var writer = new RadiusPacketWriter(buffer, RadiusCode.CoARequest, 200);
        writer.AddString(RadiusAttributeType.AcctSessionId, "sess-1");
        writer.AddMessageAuthenticator();
        writer.AddVendorString(RadiusVendorId.Mikrotik, MikrotikAttributeType.RateLimit, "1M/1M");
        int length = writer.FinishRequest(Secret);

        Assert.Equal(packet, buffer[..length]);
        Assert.True(RadiusAuthenticator.VerifyRequestAuthenticator(packet, Secret));
        Assert.Equal(MessageAuthenticatorStatus.Valid, MessageAuthenticator.Verify(packet, Secret));
    }

    [Fact]
    public void Create_BufferWriter_AdvancesByPacketLengthOnlyWhenFinished()
    {
        var output = new ArrayBufferWriter<byte>();
        byte[] requestAuthenticator = new byte[16];

        var writer = RadiusPacketWriter.Create(output, RadiusCode.CoAAck, 5);
        writer.AddUInt32(RadiusAttributeType.ErrorCause, (uint)ErrorCause.ResidualSessionContextRemoved);
        Assert.Equal(0, output.WrittenCount);
        int length = writer.FinishResponse(requestAuthenticator, Secret);

        Assert.Equal(length, output.WrittenCount);
        Assert.Equal(RadiusReadStatus.Ok, RadiusPacket.TryRead(output.WrittenSpan, out var packet));
        Assert.True(packet.TryGetUInt32(RadiusAttributeType.ErrorCause, out uint cause));
        Assert.Equal(201u, cause);
        Assert.True(RadiusAuthenticator.VerifyResponseAuthenticator(packet, requestAuthenticator, Secret));
    }

    [Fact]
    public void AddConcatenated_LargeEapMessage_SplitsIntoMaximalAttributes()
    {
        byte[] eap = new byte[1000];
        new Random(79).NextBytes(eap);
        byte[] buffer = new byte[4096];
        var writer = new RadiusPacketWriter(buffer, RadiusCode.AccessChallenge, 1);

        writer.AddConcatenated(RadiusAttributeType.EapMessage, eap);
        int length = writer.FinishResponse(new byte[16], Secret);

        RadiusPacket.TryRead(buffer.AsSpan(0, length), out var packet);
        var sizes = new List<int>();
        foreach (var attribute in packet.Attributes)
        {
            sizes.Add(attribute.Value.Length);
        }

        Assert.Equal([253, 253, 253, 241], sizes);
        byte[] joined = new byte[1000];
        Assert.True(packet.TryCopyConcatenated(RadiusAttributeType.EapMessage, joined, out _));
        Assert.Equal(eap, joined);
    }

    [Fact]
    public void CopyAttributes_ProxyState_CopiesInOrder()
    {
        byte[] request = Packet(1, 3, new byte[16], Concat(Attribute(33, [1, 1]), Attribute(1, Ascii("u")), Attribute(33, [2])));
        RadiusPacket.TryRead(request, out var parsed);
        byte[] buffer = new byte[4096];
        var writer = new RadiusPacketWriter(buffer, RadiusCode.AccessReject, parsed.Identifier);

        writer.CopyAttributes(parsed, RadiusAttributeType.ProxyState);
        int length = writer.FinishResponse(parsed, Secret);

        Assert.Equal(Concat(Attribute(33, [1, 1]), Attribute(33, [2])), buffer[20..length]);
    }

    [Fact]
    public void FinishRequest_StatusServerWithoutMessageAuthenticator_AddsOne()
    {
        byte[] buffer = new byte[4096];
        var writer = new RadiusPacketWriter(buffer, RadiusCode.StatusServer, 1);
        writer.AddString(RadiusAttributeType.NasIdentifier, "probe");

        int length = writer.FinishRequest(Secret);

        RadiusPacket.TryRead(buffer.AsSpan(0, length), out var packet);
        Assert.True(packet.ContainsAttribute(RadiusAttributeType.MessageAuthenticator));
        Assert.Equal(MessageAuthenticatorStatus.Valid, MessageAuthenticator.Verify(packet, Secret));
    }

    [Fact]
    public void Constructor_AccessRequestWithoutAuthenticator_UsesRandomAuthenticator()
    {
        byte[] first = new byte[64];
        byte[] second = new byte[64];

        _ = new RadiusPacketWriter(first, RadiusCode.AccessRequest, 1);
        _ = new RadiusPacketWriter(second, RadiusCode.AccessRequest, 1);

        Assert.NotEqual(first[4..20], second[4..20]);
        Assert.NotEqual(new byte[16], first[4..20]);
    }

    [Fact]
    public void AddAttribute_ValueOver253Octets_Throws()
    {
        byte[] buffer = new byte[4096];
        var writer = new RadiusPacketWriter(buffer, RadiusCode.AccessAccept, 1);
        writer.AddAttribute(RadiusAttributeType.Class, new byte[253]);

        bool threw = false;
        try
        {
            writer.AddAttribute(RadiusAttributeType.Class, new byte[254]);
        }
        catch (ArgumentException)
        {
            threw = true;
        }

        Assert.True(threw);
        Assert.Equal(20 + 255, writer.Length);
    }

    [Fact]
    public void AddAttribute_BeyondMaximumPacketLength_Throws()
    {
        byte[] buffer = new byte[8192];
        var writer = new RadiusPacketWriter(buffer, RadiusCode.AccessAccept, 1);
        while (writer.RemainingCapacity >= 255)
        {
            writer.AddAttribute(RadiusAttributeType.Class, new byte[253]);
        }

        bool threw = false;
        try
        {
            writer.AddAttribute(RadiusAttributeType.Class, new byte[253]);
        }
        catch (InvalidOperationException)
        {
            threw = true;
        }

        Assert.True(threw);
        Assert.True(writer.Length <= 4096);
    }

    [Fact]
    public void AddString_AfterFinish_Throws()
    {
        byte[] buffer = new byte[64];
        var writer = new RadiusPacketWriter(buffer, RadiusCode.AccessAccept, 1);
        writer.FinishResponse(new byte[16], Secret);

        bool threw = false;
        try
        {
            writer.AddString(RadiusAttributeType.ReplyMessage, "late");
        }
        catch (InvalidOperationException)
        {
            threw = true;
        }

        Assert.True(threw);
    }
}
