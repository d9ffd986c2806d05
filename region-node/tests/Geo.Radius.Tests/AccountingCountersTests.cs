using static Geo.Radius.Tests.TestData;

namespace Geo.Radius.Tests;

public sealed class AccountingCountersTests
{
    [Theory]
    [InlineData(0u, 0u, 0ul)]
    [InlineData(5u, 0u, 5ul)]
    [InlineData(0u, 1u, 4_294_967_296ul)]
    [InlineData(4_294_967_295u, 2u, 12_884_901_887ul)]
    [InlineData(uint.MaxValue, uint.MaxValue, ulong.MaxValue)]
    public void Combine_OctetsAndGigawords_GivesCumulative64BitValue(uint octets, uint gigawords, ulong expected)
    {
        Assert.Equal(expected, AccountingCounters.Combine(octets, gigawords));
    }

    [Fact]
    public void TryGetInputAndOutputOctets_AccountingRequest_CombinesGigawords()
    {
        byte[] packet = Packet(4, 1, new byte[16], Concat(
            UInt32Attribute(42, 100),
            UInt32Attribute(52, 3),
            UInt32Attribute(43, 7)));
        RadiusPacket.TryRead(packet, out var request);

        Assert.True(AccountingCounters.TryGetInputOctets(request, out ulong input));
        Assert.Equal((3ul << 32) + 100, input);
        Assert.True(AccountingCounters.TryGetOutputOctets(request, out ulong output));
        Assert.Equal(7ul, output);
    }

    [Fact]
    public void TryGetInputOctets_NoAcctInputOctets_ReturnsFalse()
    {
        RadiusPacket.TryRead(Packet(4, 1, new byte[16], UInt32Attribute(52, 3)), out var request);

        Assert.False(AccountingCounters.TryGetInputOctets(request, out _));
    }
}
