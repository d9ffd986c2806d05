using Geo.Engines;

namespace Geo.Ctl.Tests;

/// <summary>The local stack records its ports before its services bind them: a port must never be handed out twice.</summary>
public sealed class LoopbackPortsTests
{
    [Fact]
    public void FreeTcpPort_ManyUnboundPicks_NeverTheSamePortTwice()
    {
        // None of these is bound, so each stays "free"; 2,000 picks in a ~22,000-port range would repeat one almost surely.
        var ports = Enumerable.Range(0, 2000).Select(_ => LoopbackPorts.FreeTcpPort()).ToList();

        Assert.Equal(ports.Count, ports.Distinct().Count());
    }
}
