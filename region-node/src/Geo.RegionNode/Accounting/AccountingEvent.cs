using System.Net;

namespace Geo.RegionNode.Accounting;

/// <summary>What an Accounting-Request reports, as the commit path needs it (no packet buffer is kept).</summary>
internal sealed record AccountingEvent(
    AccountingKind Kind,
    string NasId,
    string AcctSessionId,
    string Username,
    Guid? SubscriberId,
    DateTimeOffset EventTime,
    Counters Counters,
    string? NasPort,
    string? CallingStationId,
    IPAddress? FramedIp,
    string? TerminateCause);

internal enum AccountingKind
{
    Start,
    Interim,
    Stop,
}

/// <summary>Cumulative counters of a session as the NAS reports them (gigawords folded in).</summary>
internal readonly record struct Counters(long InputOctets, long OutputOctets, long InputPackets, long OutputPackets, long SessionTime);
