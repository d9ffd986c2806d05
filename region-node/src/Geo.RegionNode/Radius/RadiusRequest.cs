using System.Net;
using Geo.Radius;
using Geo.RegionNode.Shards;

namespace Geo.RegionNode.Radius;

/// <summary>A request that passed the checks of the listener: known NAS, right secret, valid authenticators.</summary>
internal readonly record struct RadiusRequest(RadiusPacket Packet, IPEndPoint Remote, NasClient Nas, int SecretIndex)
{
    public ReadOnlySpan<byte> Secret => Nas.Secret(SecretIndex);
}
