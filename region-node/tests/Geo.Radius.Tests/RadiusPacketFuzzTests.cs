using System.Net;
using Geo.Radius.Dictionary;
using Geo.Radius.Security;
using static Geo.Radius.Tests.TestData;

namespace Geo.Radius.Tests;

/// <summary>
/// Feeds 120,000 random and mutated datagrams (fixed seed, so a failure reproduces) to the reader and to every
/// verifier. Each status must equal the one an independent, naive reading of RFC 2865 §3 and §5 gives, and every
/// Ok packet's attributes must tile it exactly.
/// </summary>
public sealed class RadiusPacketFuzzTests
{
    private const int Iterations = 120_000;
    private const int Seed = 0x5EED_2865;
    private static readonly byte[] Secret = "fuzz-secret"u8.ToArray();
    private static readonly byte[] KnownCodes = [1, 2, 3, 4, 5, 11, 12, 40, 41, 42, 43, 44, 45];

    [Fact]
    public void TryRead_RandomAndMutatedDatagrams_NeverThrowsAndMatchesReference()
    {
        var random = new Random(Seed);
        byte[][] seeds = SeedPackets();
        var counts = new Dictionary<RadiusReadStatus, int>();
        Span<byte> scratch = stackalloc byte[256];
        byte[] requestAuthenticator = new byte[16];

        for (int iteration = 0; iteration < Iterations; iteration++)
        {
            byte[] datagram = Generate(random, seeds);

            var status = RadiusPacket.TryRead(datagram, out var packet);
            var sharedStatus = RadiusPacket.TryRead((ReadOnlyMemory<byte>)datagram, out var shared);

            var expected = ReferenceStatus(datagram);
            Assert.True(expected == status, $"iteration {iteration}: expected {expected}, got {status} for {Convert.ToHexString(datagram)}");
            Assert.Equal(status, sharedStatus);
            counts[status] = counts.GetValueOrDefault(status) + 1;

            random.NextBytes(requestAuthenticator);
            var macStatus = MessageAuthenticator.Verify(datagram, Secret, requestAuthenticator);
            Assert.True(Enum.IsDefined(macStatus));
            bool requestAuthentic = RadiusAuthenticator.VerifyRequestAuthenticator(datagram, Secret);
            bool responseAuthentic = RadiusAuthenticator.VerifyResponseAuthenticator(datagram, requestAuthenticator, Secret);

            if (status != RadiusReadStatus.Ok)
            {
                Assert.True(packet.IsEmpty);
                Assert.True(shared.IsEmpty);
                Assert.Equal(MessageAuthenticatorStatus.Invalid, macStatus);
                Assert.False(requestAuthentic);
                Assert.False(responseAuthentic);
                continue;
            }

            CheckInvariants(packet, datagram, scratch);
            Assert.Equal(packet, shared);
        }

        // The generator must actually reach every outcome, or the run proves little.
        foreach (var status in Enum.GetValues<RadiusReadStatus>())
        {
            Assert.True(counts.GetValueOrDefault(status) > 100, $"{status}: {counts.GetValueOrDefault(status)}");
        }
    }

    private static void CheckInvariants(RadiusPacket packet, byte[] datagram, Span<byte> scratch)
    {
        int declared = (datagram[2] << 8) | datagram[3];
        Assert.Equal(declared, packet.Length);
        Assert.Equal(datagram[0], (byte)packet.Code);
        Assert.Equal(datagram.AsSpan(4, 16).ToArray(), packet.Authenticator.ToArray());

        int covered = RadiusPacket.HeaderLength;
        foreach (var attribute in packet.Attributes)
        {
            Assert.True(attribute.Value.Length <= RadiusPacket.MaxAttributeValueLength);
            Assert.Equal(attribute.Type, datagram[covered]);
            Assert.Equal(attribute.Value.Length + 2, datagram[covered + 1]);
            covered += 2 + attribute.Value.Length;
            Assert.True(covered <= packet.Length);
        }

        Assert.Equal(packet.Length, covered);

        int vendorOctets = 0;
        foreach (var vendor in packet.VendorAttributes)
        {
            vendorOctets += 2 + vendor.Value.Length;
            _ = vendor.TryGetUInt32(out _);
        }

        Assert.True(vendorOctets <= packet.Length);

        _ = UserPassword.TryRecover(packet, Secret, scratch, out int written);
        Assert.InRange(written, 0, UserPassword.MaxPasswordLength);
        Assert.True(Enum.IsDefined(ChapPassword.Verify(packet, "pw"u8)));
        _ = AccountingCounters.TryGetInputOctets(packet, out _);
        _ = RadiusRequestKey.Create(IPAddress.Loopback, 1812, packet);
        if (packet.TryCopyConcatenated(RadiusAttributeType.EapMessage, scratch, out int eapLength))
        {
            Assert.Equal(packet.GetConcatenatedLength(RadiusAttributeType.EapMessage), eapLength);
        }
    }

    /// <summary>RFC 2865 §3/§5 read naively, independently of the codec: the order of checks is the documented one.</summary>
    private static RadiusReadStatus ReferenceStatus(byte[] datagram)
    {
        if (datagram.Length < 20)
        {
            return RadiusReadStatus.TooShort;
        }

        int length = (datagram[2] << 8) | datagram[3];
        if (length < 20)
        {
            return RadiusReadStatus.TooShort;
        }

        if (length > 4096)
        {
            return RadiusReadStatus.TooLong;
        }

        if (length > datagram.Length)
        {
            return RadiusReadStatus.LengthMismatch;
        }

        if (Array.IndexOf(KnownCodes, datagram[0]) < 0)
        {
            return RadiusReadStatus.UnknownCode;
        }

        for (int i = 20; i < length;)
        {
            if (i + 1 >= length || datagram[i + 1] < 2 || i + datagram[i + 1] > length)
            {
                return RadiusReadStatus.BadAttributeLength;
            }

            i += datagram[i + 1];
        }

        return RadiusReadStatus.Ok;
    }

    private static byte[] Generate(Random random, byte[][] seeds)
    {
        byte[] seed = seeds[random.Next(seeds.Length)];
        switch (random.Next(10))
        {
            case 0:
                return RandomBytes(random, random.Next(0, 40));

            case 1:
                {
                    // Random attribute soup behind a valid header.
                    byte[] datagram = RandomBytes(random, random.Next(20, 400));
                    datagram[0] = KnownCodes[random.Next(KnownCodes.Length)];
                    SetLength(datagram, datagram.Length);
                    return datagram;
                }

            case 2:
                {
                    byte[] datagram = (byte[])seed.Clone();
                    int flips = random.Next(1, 5);
                    for (int i = 0; i < flips; i++)
                    {
                        datagram[random.Next(datagram.Length)] ^= (byte)random.Next(1, 256);
                    }

                    return datagram;
                }

            case 3:
                return seed[..random.Next(0, seed.Length)];

            case 4:
                {
                    // Length field beyond the datagram, sometimes with some padding present.
                    byte[] datagram = Concat(seed, RandomBytes(random, random.Next(0, 8)));
                    SetLength(datagram, Math.Min(65535, seed.Length + random.Next(1, 16)));
                    return datagram;
                }

            case 5:
                {
                    // A zero- or one-length attribute, or a length running past the end.
                    byte[] datagram = (byte[])seed.Clone();
                    int offset = AttributeOffset(random, datagram);
                    if (offset > 0)
                    {
                        datagram[offset + 1] = (byte)random.Next(0, 3) switch
                        {
                            0 => 0,
                            1 => 1,
                            _ => (byte)random.Next(2, 256),
                        };
                    }

                    return datagram;
                }

            case 6:
                // Valid packet followed by padding: must read exactly as the packet.
                return Concat(seed, RandomBytes(random, random.Next(1, 64)));

            case 7:
                {
                    byte[] datagram = (byte[])seed.Clone();
                    SetLength(datagram, random.Next(0, 5) switch
                    {
                        0 => random.Next(0, 20),
                        1 => 4097 + random.Next(0, 60000),
                        _ => random.Next(20, datagram.Length + 1),
                    });
                    return datagram;
                }

            case 8:
                {
                    byte[] datagram = (byte[])seed.Clone();
                    datagram[0] = (byte)random.Next(256);
                    return datagram;
                }

            default:
                return seed;
        }
    }

    private static int AttributeOffset(Random random, byte[] packet)
    {
        var offsets = new List<int>();
        for (int i = 20; i + 1 < packet.Length && packet[i + 1] >= 2; i += packet[i + 1])
        {
            offsets.Add(i);
        }

        return offsets.Count == 0 ? -1 : offsets[random.Next(offsets.Count)];
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        byte[] bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    private static void SetLength(byte[] datagram, int length)
    {
        datagram[2] = (byte)(length >> 8);
        datagram[3] = (byte)length;
    }

    private static byte[][] SeedPackets()
    {
        var seeds = new List<byte[]>();
        byte[] buffer = new byte[4096];
        byte[] authenticator = Hex("00112233445566778899aabbccddeeff");

        var access = new RadiusPacketWriter(buffer, RadiusCode.AccessRequest, 1, authenticator);
        access.AddMessageAuthenticator();
        access.AddString(RadiusAttributeType.UserName, "fuzz@tenant");
        access.AddUserPassword("password-of-some-length"u8, Secret);
        access.AddAttribute(RadiusAttributeType.ChapPassword, new byte[17]);
        access.AddVendorString(RadiusVendorId.Cisco, CiscoAttributeType.AvPair, "ip:addr-pool=default");
        seeds.Add(buffer[..access.FinishRequest(Secret)]);

        var accounting = new RadiusPacketWriter(buffer, RadiusCode.AccountingRequest, 2);
        accounting.AddUInt32(RadiusAttributeType.AcctStatusType, (uint)AcctStatusType.InterimUpdate);
        accounting.AddUInt32(RadiusAttributeType.AcctInputOctets, 123);
        accounting.AddUInt32(RadiusAttributeType.AcctInputGigawords, 4);
        accounting.AddString(RadiusAttributeType.AcctSessionId, "0001");
        seeds.Add(buffer[..accounting.FinishRequest(Secret)]);

        var accept = new RadiusPacketWriter(buffer, RadiusCode.AccessAccept, 1);
        accept.AddMessageAuthenticator();
        accept.AddVendorString(RadiusVendorId.Mikrotik, MikrotikAttributeType.RateLimit, "10M/10M");
        accept.AddVendorUInt32(RadiusVendorId.Wispr, WisprAttributeType.BandwidthMaxUp, 1000);
        accept.AddConcatenated(RadiusAttributeType.EapMessage, new byte[600]);
        seeds.Add(buffer[..accept.FinishResponse(authenticator, Secret)]);

        var coa = new RadiusPacketWriter(buffer, RadiusCode.CoARequest, 3);
        coa.AddMessageAuthenticator();
        coa.AddString(RadiusAttributeType.AcctSessionId, "0001");
        seeds.Add(buffer[..coa.FinishRequest(Secret)]);

        seeds.Add(Packet(45, 3, authenticator, UInt32Attribute(101, 503)));
        seeds.Add(Packet(12, 9, authenticator, []));
        seeds.Add(Packet(1, 9, authenticator, Concat(Attribute(26, [0, 0, 0, 9, 1, 2]), Attribute(26, [0, 0]), [24, 2])));
        return [.. seeds];
    }
}
