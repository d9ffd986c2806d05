using System.Globalization;
using Geo.Radius;
using Geo.Radius.Dictionary;

namespace Geo.RegionNode.ChangeOfAuthorization;

/// <summary>A rate limit in the NAS vendor's own attributes (Access-Accept and CoA-Request alike).</summary>
internal static class VendorRates
{
    public static void Add(ref RadiusPacketWriter writer, string vendor, int downKbps, int upKbps)
    {
        var inv = CultureInfo.InvariantCulture;
        switch (vendor)
        {
            case "mikrotik":
                // rx-rate/tx-rate from the router's side: rx is the subscriber's upload.
                writer.AddVendorString(RadiusVendorId.Mikrotik, MikrotikAttributeType.RateLimit, string.Create(inv, $"{upKbps}k/{downKbps}k"));
                break;
            case "cisco":
                writer.AddVendorString(RadiusVendorId.Cisco, CiscoAttributeType.AvPair, string.Create(inv, $"subscriber:sub-qos-policy-in=GEO-UP-{upKbps}K"));
                writer.AddVendorString(RadiusVendorId.Cisco, CiscoAttributeType.AvPair, string.Create(inv, $"subscriber:sub-qos-policy-out=GEO-DOWN-{downKbps}K"));
                break;
            case "juniper":
                writer.AddVendorString(RadiusVendorId.Erx, ErxAttributeType.IngressPolicyName, string.Create(inv, $"GEO-UP-{upKbps}K"));
                writer.AddVendorString(RadiusVendorId.Erx, ErxAttributeType.EgressPolicyName, string.Create(inv, $"GEO-DOWN-{downKbps}K"));
                break;
            default:
                writer.AddVendorUInt32(RadiusVendorId.Wispr, WisprAttributeType.BandwidthMaxUp, (uint)Math.Min(uint.MaxValue, upKbps * 1000L));
                writer.AddVendorUInt32(RadiusVendorId.Wispr, WisprAttributeType.BandwidthMaxDown, (uint)Math.Min(uint.MaxValue, downKbps * 1000L));
                break;
        }
    }
}
