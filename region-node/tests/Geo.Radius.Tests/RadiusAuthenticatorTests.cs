using System.Security.Cryptography;
using Geo.Radius.Dictionary;
using Geo.Radius.Security;
using static Geo.Radius.Tests.TestData;

namespace Geo.Radius.Tests;

public sealed class RadiusAuthenticatorTests
{
    private static readonly byte[] Secret = "coa-secret"u8.ToArray();

    [Fact]
    public void CreateRandom_TwoCalls_GiveDifferentAuthenticators()
    {
        Span<byte> first = stackalloc byte[16];
        Span<byte> second = stackalloc byte[16];

        RadiusAuthenticator.CreateRandom(first);
        RadiusAuthenticator.CreateRandom(second);

        Assert.False(first.SequenceEqual(second));
    }

    [Fact]
    public void CreateRandom_CallerSuppliedSource_UsesThatSource()
    {
        using var source = new CountingRandom();
        Span<byte> authenticator = stackalloc byte[20];

        RadiusAuthenticator.CreateRandom(authenticator, source);

        Assert.Equal(Enumerable.Range(0, 16).Select(i => (byte)i).ToArray(), authenticator[..16].ToArray());
        Assert.Equal(new byte[4], authenticator[16..].ToArray());
    }

    [Fact]
    public void VerifyRequestAuthenticator_DisconnectRequestComputedByHand_ReturnsTrue()
    {
        byte[] attributes = Concat(Attribute(1, Ascii("frank")), Attribute(44, Ascii("abc")));
        byte[] withZeros = Packet(40, 11, new byte[16], attributes);
        byte[] packet = Packet(40, 11, MD5.HashData(Concat(withZeros, Secret)), attributes);

        Assert.True(RadiusAuthenticator.VerifyRequestAuthenticator(packet, Secret));
    }

    [Fact]
    public void VerifyRequestAuthenticator_AccessRequest_ReturnsFalse()
    {
        byte[] attributes = Attribute(1, Ascii("frank"));
        byte[] withZeros = Packet(1, 11, new byte[16], attributes);
        byte[] packet = Packet(1, 11, MD5.HashData(Concat(withZeros, Secret)), attributes);

        Assert.False(RadiusAuthenticator.VerifyRequestAuthenticator(packet, Secret));
    }

    [Fact]
    public void VerifyResponseAuthenticator_CoANakComputedByHand_ReturnsTrue()
    {
        byte[] requestAuthenticator = Hex("ffeeddccbbaa99887766554433221100");
        byte[] response = Packet(45, 11, new byte[16], UInt32Attribute(101, 503));
        ReferencePacketMd5(response, requestAuthenticator, Secret).CopyTo(response, 4);

        Assert.True(RadiusAuthenticator.VerifyResponseAuthenticator(response, requestAuthenticator, Secret));
        Assert.False(RadiusAuthenticator.VerifyResponseAuthenticator(response, new byte[16], Secret));
        Assert.False(RadiusAuthenticator.VerifyResponseAuthenticator(response, requestAuthenticator.AsSpan(0, 15), Secret));
    }

    [Fact]
    public void VerifyResponseAuthenticator_DatagramWithPadding_IgnoresPadding()
    {
        byte[] requestAuthenticator = Hex("ffeeddccbbaa99887766554433221100");
        byte[] response = Packet(41, 2, new byte[16], UInt32Attribute(101, 201));
        ReferencePacketMd5(response, requestAuthenticator, Secret).CopyTo(response, 4);

        Assert.True(RadiusAuthenticator.VerifyResponseAuthenticator(Concat(response, [1, 2, 3]), requestAuthenticator, Secret));
    }

    [Fact]
    public void VerifyResponseAuthenticator_LongSecret_UsesPooledBuffer()
    {
        byte[] longSecret = Enumerable.Repeat((byte)'k', 10_000).ToArray();
        byte[] requestAuthenticator = new byte[16];
        byte[] buffer = new byte[4096];
        var writer = new RadiusPacketWriter(buffer, RadiusCode.AccountingResponse, 3);
        int length = writer.FinishResponse(requestAuthenticator, longSecret);

        Assert.Equal(ReferencePacketMd5(buffer[..length], requestAuthenticator, longSecret), buffer[4..20]);
        Assert.True(RadiusAuthenticator.VerifyResponseAuthenticator(buffer.AsSpan(0, length), requestAuthenticator, longSecret));
    }

    [Fact]
    public void TryComputeRequestAuthenticator_MalformedPacket_ReturnsFalse()
    {
        Span<byte> destination = stackalloc byte[16];

        Assert.False(RadiusAuthenticator.TryComputeRequestAuthenticator([4, 0, 0], Secret, destination));
        Assert.False(RadiusAuthenticator.VerifyRequestAuthenticator(default(RadiusPacket), Secret));
    }

    [Fact]
    public void VerifyRequestAuthenticator_AccountingRequestFromWriter_ReturnsTrue()
    {
        byte[] buffer = new byte[4096];
        var writer = new RadiusPacketWriter(buffer, RadiusCode.AccountingRequest, 8);
        writer.AddUInt32(RadiusAttributeType.AcctStatusType, (uint)AcctStatusType.Stop);
        writer.AddUInt32(RadiusAttributeType.AcctTerminateCause, (uint)AcctTerminateCause.UserRequest);
        int length = writer.FinishRequest(Secret);

        Assert.True(RadiusAuthenticator.VerifyRequestAuthenticator(buffer.AsSpan(0, length), Secret));
    }

    private sealed class CountingRandom : RandomNumberGenerator
    {
        private byte _next;

        public override void GetBytes(byte[] data) => GetBytes(data.AsSpan());

        public override void GetBytes(Span<byte> data)
        {
            for (int i = 0; i < data.Length; i++)
            {
                data[i] = _next++;
            }
        }
    }
}
