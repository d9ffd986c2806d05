using Geo.Radius.Dictionary;

namespace Geo.Radius;

/// <summary>
/// Cumulative 64-bit session counters: Acct-Input-Octets and Acct-Output-Octets wrap at 2^32, and
/// Acct-Input-Gigawords / Acct-Output-Gigawords count the wraps (RFC 2869 §5.1, §5.2).
/// </summary>
public static class AccountingCounters
{
    /// <summary>Gigawords × 2^32 + octets.</summary>
    public static ulong Combine(uint octets, uint gigawords) => ((ulong)gigawords << 32) | octets;

    /// <summary>
    /// The octets the NAS received from the subscriber so far; false if the request has no Acct-Input-Octets.
    /// A missing Acct-Input-Gigawords counts as 0.
    /// </summary>
    public static bool TryGetInputOctets(RadiusPacket request, out ulong octets) =>
        TryGetCounter(request, RadiusAttributeType.AcctInputOctets, RadiusAttributeType.AcctInputGigawords, out octets);

    /// <summary>
    /// The octets the NAS sent to the subscriber so far; false if the request has no Acct-Output-Octets.
    /// A missing Acct-Output-Gigawords counts as 0.
    /// </summary>
    public static bool TryGetOutputOctets(RadiusPacket request, out ulong octets) =>
        TryGetCounter(request, RadiusAttributeType.AcctOutputOctets, RadiusAttributeType.AcctOutputGigawords, out octets);

    private static bool TryGetCounter(RadiusPacket request, byte octetsType, byte gigawordsType, out ulong value)
    {
        if (!request.TryGetUInt32(octetsType, out uint octets))
        {
            value = 0;
            return false;
        }

        request.TryGetUInt32(gigawordsType, out uint gigawords);
        value = Combine(octets, gigawords);
        return true;
    }
}
