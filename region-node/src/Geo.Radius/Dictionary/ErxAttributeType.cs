namespace Geo.Radius.Dictionary;

/// <summary>
/// Unisphere/Juniper BNG ("ERX") vendor attribute numbers (vendor 4874). The Service-Activate, Service-Volume,
/// Service-Timeout and Service-Statistics values begin with a one-octet tag.
/// </summary>
public static class ErxAttributeType
{
    public const byte VirtualRouterName = 1;
    public const byte AddressPoolName = 2;
    public const byte PrimaryDns = 4;
    public const byte SecondaryDns = 5;
    public const byte IngressPolicyName = 10;
    public const byte EgressPolicyName = 11;
    public const byte IngressStatistics = 12;
    public const byte EgressStatistics = 13;
    public const byte QosProfileName = 26;
    public const byte FramedIpRouteTag = 34;
    public const byte InputGigapkts = 42;
    public const byte Ipv6PrimaryDns = 47;
    public const byte Ipv6SecondaryDns = 48;
    public const byte ServiceActivate = 65;
    public const byte ServiceDeactivate = 66;
    public const byte ServiceVolume = 67;
    public const byte ServiceTimeout = 68;
    public const byte ServiceStatistics = 69;
    public const byte QosParameters = 82;
    public const byte ServiceSession = 83;
    public const byte Ipv6IngressPolicyName = 106;
    public const byte Ipv6EgressPolicyName = 107;
    public const byte QosSetName = 130;
}
