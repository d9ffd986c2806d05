using System.Net;
using Geo.Radius.Dictionary;
using static Geo.Radius.Tests.TestData;

namespace Geo.Radius.Tests;

public sealed class RadiusPacketReadTests
{
    private static readonly byte[] ZeroAuthenticator = new byte[16];

    private static byte[] AccessRequest(params byte[][] attributes) => Packet(1, 7, ZeroAuthenticator, Concat(attributes));

    [Fact]
    public void TryRead_NoAttributes_ReturnsOk()
    {
        Assert.Equal(RadiusReadStatus.Ok, RadiusPacket.TryRead(AccessRequest(), out var packet));

        Assert.Equal(20, packet.Length);
        Assert.False(packet.Attributes.MoveNext());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(19)]
    public void TryRead_DatagramShorterThanHeader_ReturnsTooShort(int length)
    {
        byte[] datagram = AccessRequest(Attribute(1, "x"u8.ToArray()))[..length];

        Assert.Equal(RadiusReadStatus.TooShort, RadiusPacket.TryRead(datagram, out var packet));
        Assert.True(packet.IsEmpty);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(19)]
    public void TryRead_LengthFieldBelowHeader_ReturnsTooShort(int declared)
    {
        byte[] datagram = AccessRequest();
        datagram[2] = 0;
        datagram[3] = (byte)declared;

        Assert.Equal(RadiusReadStatus.TooShort, RadiusPacket.TryRead(datagram, out _));
    }

    [Fact]
    public void TryRead_LengthFieldAbove4096_ReturnsTooLong()
    {
        byte[] datagram = new byte[5000];
        AccessRequest().CopyTo(datagram, 0);
        datagram[2] = 4097 >> 8;
        datagram[3] = 4097 & 0xff;

        Assert.Equal(RadiusReadStatus.TooLong, RadiusPacket.TryRead(datagram, out _));
    }

    [Fact]
    public void TryRead_LengthFieldBeyondDatagram_ReturnsLengthMismatch()
    {
        byte[] datagram = AccessRequest(Attribute(1, "nemo"u8.ToArray()));
        datagram[3]++;

        Assert.Equal(RadiusReadStatus.LengthMismatch, RadiusPacket.TryRead(datagram, out _));
    }

    [Fact]
    public void TryRead_OctetsBeyondLength_AreIgnoredAsPadding()
    {
        byte[] packetBytes = AccessRequest(Attribute(1, "nemo"u8.ToArray()));
        byte[] datagram = Concat(packetBytes, [0xff, 0x00, 0x01, 0x02, 0x03]);

        Assert.Equal(RadiusReadStatus.Ok, RadiusPacket.TryRead(datagram, out var packet));

        Assert.Equal(packetBytes.Length, packet.Length);
        Assert.Equal(packetBytes, packet.Memory.ToArray());
        Assert.Equal(1, packet.CountAttributes(RadiusAttributeType.UserName));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(6)]
    [InlineData(13)]
    [InlineData(46)]
    [InlineData(99)]
    [InlineData(255)]
    public void TryRead_UnknownCode_ReturnsUnknownCode(byte code)
    {
        byte[] datagram = AccessRequest();
        datagram[0] = code;

        Assert.Equal(RadiusReadStatus.UnknownCode, RadiusPacket.TryRead(datagram, out _));
    }

    [Theory]
    [InlineData(new byte[] { 1, 0 })]
    [InlineData(new byte[] { 1, 1, 0x41 })]
    [InlineData(new byte[] { 1, 4, 0x41 })]
    [InlineData(new byte[] { 1, 3, 0x41, 1 })]
    [InlineData(new byte[] { 1, 3, 0x41, 2, 0 })]
    public void TryRead_MalformedAttribute_ReturnsBadAttributeLength(byte[] attributes)
    {
        Assert.Equal(RadiusReadStatus.BadAttributeLength, RadiusPacket.TryRead(AccessRequest(attributes), out var packet));
        Assert.True(packet.IsEmpty);
    }

    [Fact]
    public void TryRead_EmptyValueAttribute_ReturnsOkWithEmptyValue()
    {
        Assert.Equal(RadiusReadStatus.Ok, RadiusPacket.TryRead(AccessRequest([24, 2], Attribute(1, "a"u8.ToArray())), out var packet));

        Assert.True(packet.TryGetAttribute(RadiusAttributeType.State, out var state));
        Assert.True(state.IsEmpty);
        Assert.True(packet.TryGetString(RadiusAttributeType.UserName, out string? name));
        Assert.Equal("a", name);
    }

    [Fact]
    public void TryRead_ReadOnlySpan_CopiesThePacket()
    {
        byte[] datagram = AccessRequest(Attribute(1, "nemo"u8.ToArray()));
        RadiusPacket.TryRead((ReadOnlySpan<byte>)datagram, out var packet);

        datagram[22] = (byte)'N';

        Assert.True(packet.TryGetString(RadiusAttributeType.UserName, out string? name));
        Assert.Equal("nemo", name);
    }

    [Fact]
    public void TryRead_ReadOnlyMemory_SharesTheBuffer()
    {
        byte[] datagram = Concat(AccessRequest(Attribute(1, "nemo"u8.ToArray())), [0, 0, 0]);
        RadiusPacket.TryRead((ReadOnlyMemory<byte>)datagram, out var packet);

        datagram[22] = (byte)'N';

        Assert.True(packet.TryGetString(RadiusAttributeType.UserName, out string? name));
        Assert.Equal("Nemo", name);
        Assert.Equal(26, packet.Memory.Length);
    }

    [Fact]
    public void TryRead_ByteArray_BindsToCopyingOverload()
    {
        byte[] datagram = AccessRequest(Attribute(1, "nemo"u8.ToArray()));
        RadiusPacket.TryRead(datagram, out var packet);

        datagram[22] = (byte)'N';

        Assert.True(packet.TryGetString(RadiusAttributeType.UserName, out string? name));
        Assert.Equal("nemo", name);
    }

    [Fact]
    public void DefaultPacket_Accessors_ReturnEmptyWithoutThrowing()
    {
        RadiusPacket packet = default;

        Assert.True(packet.IsEmpty);
        Assert.Equal((RadiusCode)0, packet.Code);
        Assert.Equal(0, packet.Identifier);
        Assert.True(packet.Authenticator.IsEmpty);
        Assert.False(packet.Attributes.MoveNext());
        Assert.False(packet.VendorAttributes.MoveNext());
        Assert.False(packet.TryGetAttribute(RadiusAttributeType.UserName, out _));
        Assert.False(packet.TryGetOctets(RadiusAttributeType.Class, out _));
    }

    [Fact]
    public void TryGetUInt32_ValueNotFourOctets_ReturnsFalse()
    {
        RadiusPacket.TryRead(AccessRequest(Attribute(5, [0, 0, 3])), out var packet);

        Assert.False(packet.TryGetUInt32(RadiusAttributeType.NasPort, out _));
        Assert.False(packet.TryGetIPv4Address(RadiusAttributeType.NasPort, out _));
        Assert.False(packet.TryGetTime(RadiusAttributeType.NasPort, out _));
    }

    [Fact]
    public void TryGetTime_EventTimestamp_ReturnsUtcTime()
    {
        RadiusPacket.TryRead(AccessRequest(UInt32Attribute(55, 1_700_000_000)), out var packet);

        Assert.True(packet.TryGetTime(RadiusAttributeType.EventTimestamp, out var time));
        Assert.Equal(new DateTimeOffset(2023, 11, 14, 22, 13, 20, TimeSpan.Zero), time);
    }

    [Fact]
    public void TryGetOctets_Class_ReturnsSliceOfPacketMemory()
    {
        RadiusPacket.TryRead(AccessRequest(Attribute(1, "u"u8.ToArray()), Attribute(25, [9, 8, 7])), out var packet);

        Assert.True(packet.TryGetOctets(RadiusAttributeType.Class, out var value));
        Assert.Equal(new byte[] { 9, 8, 7 }, value.ToArray());
    }

    [Fact]
    public void Attributes_RepeatedTypes_AreEnumeratedInWireOrder()
    {
        RadiusPacket.TryRead(AccessRequest(Attribute(33, [1]), Attribute(1, [2]), Attribute(33, [3, 3])), out var packet);
        var seen = new List<(byte Type, byte[] Value)>();

        foreach (var attribute in packet.Attributes)
        {
            seen.Add((attribute.Type, attribute.Value.ToArray()));
        }

        Assert.Equal(3, seen.Count);
        Assert.Equal((byte)33, seen[0].Type);
        Assert.Equal(new byte[] { 3, 3 }, seen[2].Value);
        Assert.Equal(2, packet.CountAttributes(RadiusAttributeType.ProxyState));
    }

    [Fact]
    public void VendorAttributes_SeveralVendors_AreEnumeratedWithIdsAndTypes()
    {
        byte[] mikrotik = Concat([0, 0, 0x3a, 0x8c], [8, 9], "10M/20M"u8.ToArray(), [19, 7], "block"u8.ToArray());
        byte[] wispr = Concat([0, 0, 0x37, 0x2a], [7, 6, 0, 0x0f, 0x42, 0x40]);
        byte[] cisco = Concat([0, 0, 0, 9], [1, 14], "ip:addr-pool"u8.ToArray());
        RadiusPacket.TryRead(AccessRequest(Attribute(26, mikrotik), Attribute(1, "u"u8.ToArray()), Attribute(26, wispr), Attribute(26, cisco)), out var packet);
        var seen = new List<(uint Vendor, byte Type, string Value)>();

        foreach (var attribute in packet.VendorAttributes)
        {
            seen.Add((attribute.VendorId, attribute.VendorType, Convert.ToHexString(attribute.Value)));
        }

        Assert.Equal(4, seen.Count);
        Assert.Equal((RadiusVendorId.Mikrotik, MikrotikAttributeType.RateLimit), (seen[0].Vendor, seen[0].Type));
        Assert.Equal((RadiusVendorId.Mikrotik, MikrotikAttributeType.AddressList), (seen[1].Vendor, seen[1].Type));
        Assert.Equal((RadiusVendorId.Wispr, WisprAttributeType.BandwidthMaxUp), (seen[2].Vendor, seen[2].Type));
        Assert.Equal((RadiusVendorId.Cisco, CiscoAttributeType.AvPair), (seen[3].Vendor, seen[3].Type));
        Assert.True(packet.TryGetVendorString(RadiusVendorId.Mikrotik, MikrotikAttributeType.RateLimit, out string? rate));
        Assert.Equal("10M/20M", rate);
        Assert.True(packet.TryGetVendorString(RadiusVendorId.Mikrotik, MikrotikAttributeType.AddressList, out string? list));
        Assert.Equal("block", list);
        Assert.True(packet.TryGetVendorUInt32(RadiusVendorId.Wispr, WisprAttributeType.BandwidthMaxUp, out uint up));
        Assert.Equal(1_000_000u, up);
        Assert.False(packet.TryGetVendorAttribute(RadiusVendorId.Wispr, WisprAttributeType.BandwidthMaxDown, out _));
    }

    [Fact]
    public void VendorAttributes_VsaNotInRfcFormat_IsSkippedAndPacketStillReads()
    {
        byte[] odd = Concat([0, 0, 0x3a, 0x8c], [8, 0, 1, 2]);
        byte[] good = Concat([0, 0, 0x37, 0x2a], [1, 5], "abc"u8.ToArray());
        byte[] tooShort = [0, 0, 0];

        Assert.Equal(RadiusReadStatus.Ok, RadiusPacket.TryRead(AccessRequest(Attribute(26, odd), Attribute(26, tooShort), Attribute(26, good)), out var packet));

        int count = 0;
        foreach (var attribute in packet.VendorAttributes)
        {
            count++;
            Assert.Equal(RadiusVendorId.Wispr, attribute.VendorId);
            Assert.Equal("abc", attribute.GetString());
        }

        Assert.Equal(1, count);
        Assert.Equal(3, packet.CountAttributes(RadiusAttributeType.VendorSpecific));
    }

    [Fact]
    public void TryCopyConcatenated_EapMessageInThreeAttributes_JoinsInOrder()
    {
        byte[] eap = Enumerable.Range(0, 600).Select(i => (byte)i).ToArray();
        RadiusPacket.TryRead(AccessRequest(Attribute(79, eap[..253]), Attribute(1, "u"u8.ToArray()), Attribute(79, eap[253..506]), Attribute(79, eap[506..])), out var packet);
        byte[] joined = new byte[packet.GetConcatenatedLength(RadiusAttributeType.EapMessage)];

        Assert.True(packet.TryCopyConcatenated(RadiusAttributeType.EapMessage, joined, out int written));

        Assert.Equal(600, written);
        Assert.Equal(eap, joined);
        Assert.False(packet.TryCopyConcatenated(RadiusAttributeType.EapMessage, new byte[599], out _));
    }

    [Fact]
    public void RadiusValue_Decoders_DecodeRfcTypes()
    {
        Assert.Equal("grüß", RadiusValue.GetString("grüß"u8));
        Assert.True(RadiusValue.TryGetUInt32([0xde, 0xad, 0xbe, 0xef], out uint number));
        Assert.Equal(0xdeadbeefu, number);
        Assert.True(RadiusValue.TryGetIPv4Address([10, 0, 0, 1], out var address));
        Assert.Equal(IPAddress.Parse("10.0.0.1"), address);
        Assert.False(RadiusValue.TryGetIPv4Address([10, 0, 0], out _));
        Assert.Equal(new byte[] { 1, 2 }, RadiusValue.GetOctets([1, 2]));
    }

    [Fact]
    public void Equals_SameBytes_AreEqual()
    {
        byte[] bytes = AccessRequest(Attribute(1, "nemo"u8.ToArray()));
        RadiusPacket.TryRead((ReadOnlySpan<byte>)bytes, out var copied);
        RadiusPacket.TryRead((ReadOnlyMemory<byte>)bytes, out var shared);

        Assert.True(copied == shared);
        Assert.Equal(copied.GetHashCode(), shared.GetHashCode());
    }
}
