using System.Net;
using Geo.Radius;
using Geo.RegionNode.Shards;

namespace Geo.RegionNode;

/// <summary>
/// A request that passed the checks of the listener: known NAS, right secret, valid authenticators. A request
/// forwarded by another region (<see cref="FromPeer"/>) is signed with the inter-region secret and names its
/// NAS in NAS-IP-Address; it is answered here and never forwarded again. A request <see cref="Replayed"/> from the
/// survivability journal goes to its shard's owner (here or forwarded) and never back into the journal; its shard's home
/// is <see cref="JournalHome"/> (what an Accounting-On/Off, which names no subscriber, was journaled for).
/// </summary>
internal readonly record struct RadiusRequest(RadiusPacket Packet, IPEndPoint Remote, NasClient Nas, byte[] SecretBytes, bool FromPeer = false, bool Replayed = false,
    string? JournalHome = null)
{
    /// <summary>The secret this request was verified with, and its answer is signed with.</summary>
    public ReadOnlySpan<byte> Secret => SecretBytes;
}
