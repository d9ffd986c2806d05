using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;
using static Geo.Radius.Dictionary.RadiusDataType;

namespace Geo.Radius.Dictionary;

/// <summary>
/// Names and data types of the standard attributes (RFC 2865, 2866, 2869, 5176 and the RFC 3162/4372 session
/// identifiers) and of the vendor attributes in <see cref="RadiusVendorId"/>. Lookups by number do not allocate.
/// Numbers follow the FreeRADIUS dictionaries.
/// </summary>
[SuppressMessage("Naming", "CA1711:Identifiers should not have incorrect suffix", Justification = "\"Dictionary\" is the RADIUS term for the table of attribute names and types; this is not a collection.")]
public static class RadiusDictionary
{
    private static readonly RadiusAttributeDefinition[] _definitions =
    [
        Standard("User-Name", RadiusAttributeType.UserName, Text),
        Standard("User-Password", RadiusAttributeType.UserPassword, Octets),
        Standard("CHAP-Password", RadiusAttributeType.ChapPassword, Octets),
        Standard("NAS-IP-Address", RadiusAttributeType.NasIpAddress, IPv4Address),
        Standard("NAS-Port", RadiusAttributeType.NasPort, Integer32),
        Standard("Service-Type", RadiusAttributeType.ServiceType, Integer32),
        Standard("Framed-Protocol", RadiusAttributeType.FramedProtocol, Integer32),
        Standard("Framed-IP-Address", RadiusAttributeType.FramedIpAddress, IPv4Address),
        Standard("Framed-IP-Netmask", RadiusAttributeType.FramedIpNetmask, IPv4Address),
        Standard("Framed-Routing", RadiusAttributeType.FramedRouting, Integer32),
        Standard("Filter-Id", RadiusAttributeType.FilterId, Text),
        Standard("Framed-MTU", RadiusAttributeType.FramedMtu, Integer32),
        Standard("Framed-Compression", RadiusAttributeType.FramedCompression, Integer32),
        Standard("Login-IP-Host", RadiusAttributeType.LoginIpHost, IPv4Address),
        Standard("Login-Service", RadiusAttributeType.LoginService, Integer32),
        Standard("Login-TCP-Port", RadiusAttributeType.LoginTcpPort, Integer32),
        Standard("Reply-Message", RadiusAttributeType.ReplyMessage, Text),
        Standard("Callback-Number", RadiusAttributeType.CallbackNumber, Text),
        Standard("Callback-Id", RadiusAttributeType.CallbackId, Text),
        Standard("Framed-Route", RadiusAttributeType.FramedRoute, Text),
        Standard("Framed-IPX-Network", RadiusAttributeType.FramedIpxNetwork, IPv4Address),
        Standard("State", RadiusAttributeType.State, Octets),
        Standard("Class", RadiusAttributeType.Class, Octets),
        Standard("Vendor-Specific", RadiusAttributeType.VendorSpecific, VendorSpecific),
        Standard("Session-Timeout", RadiusAttributeType.SessionTimeout, Integer32),
        Standard("Idle-Timeout", RadiusAttributeType.IdleTimeout, Integer32),
        Standard("Termination-Action", RadiusAttributeType.TerminationAction, Integer32),
        Standard("Called-Station-Id", RadiusAttributeType.CalledStationId, Text),
        Standard("Calling-Station-Id", RadiusAttributeType.CallingStationId, Text),
        Standard("NAS-Identifier", RadiusAttributeType.NasIdentifier, Text),
        Standard("Proxy-State", RadiusAttributeType.ProxyState, Octets),
        Standard("Login-LAT-Service", RadiusAttributeType.LoginLatService, Text),
        Standard("Login-LAT-Node", RadiusAttributeType.LoginLatNode, Text),
        Standard("Login-LAT-Group", RadiusAttributeType.LoginLatGroup, Octets),
        Standard("Framed-AppleTalk-Link", RadiusAttributeType.FramedAppleTalkLink, Integer32),
        Standard("Framed-AppleTalk-Network", RadiusAttributeType.FramedAppleTalkNetwork, Integer32),
        Standard("Framed-AppleTalk-Zone", RadiusAttributeType.FramedAppleTalkZone, Text),
        Standard("Acct-Status-Type", RadiusAttributeType.AcctStatusType, Integer32),
        Standard("Acct-Delay-Time", RadiusAttributeType.AcctDelayTime, Integer32),
        Standard("Acct-Input-Octets", RadiusAttributeType.AcctInputOctets, Integer32),
        Standard("Acct-Output-Octets", RadiusAttributeType.AcctOutputOctets, Integer32),
        Standard("Acct-Session-Id", RadiusAttributeType.AcctSessionId, Text),
        Standard("Acct-Authentic", RadiusAttributeType.AcctAuthentic, Integer32),
        Standard("Acct-Session-Time", RadiusAttributeType.AcctSessionTime, Integer32),
        Standard("Acct-Input-Packets", RadiusAttributeType.AcctInputPackets, Integer32),
        Standard("Acct-Output-Packets", RadiusAttributeType.AcctOutputPackets, Integer32),
        Standard("Acct-Terminate-Cause", RadiusAttributeType.AcctTerminateCause, Integer32),
        Standard("Acct-Multi-Session-Id", RadiusAttributeType.AcctMultiSessionId, Text),
        Standard("Acct-Link-Count", RadiusAttributeType.AcctLinkCount, Integer32),
        Standard("Acct-Input-Gigawords", RadiusAttributeType.AcctInputGigawords, Integer32),
        Standard("Acct-Output-Gigawords", RadiusAttributeType.AcctOutputGigawords, Integer32),
        Standard("Event-Timestamp", RadiusAttributeType.EventTimestamp, Time),
        Standard("CHAP-Challenge", RadiusAttributeType.ChapChallenge, Octets),
        Standard("NAS-Port-Type", RadiusAttributeType.NasPortType, Integer32),
        Standard("Port-Limit", RadiusAttributeType.PortLimit, Integer32),
        Standard("Login-LAT-Port", RadiusAttributeType.LoginLatPort, Text),
        Standard("ARAP-Password", RadiusAttributeType.ArapPassword, Octets),
        Standard("ARAP-Features", RadiusAttributeType.ArapFeatures, Octets),
        Standard("ARAP-Zone-Access", RadiusAttributeType.ArapZoneAccess, Integer32),
        Standard("ARAP-Security", RadiusAttributeType.ArapSecurity, Integer32),
        Standard("ARAP-Security-Data", RadiusAttributeType.ArapSecurityData, Text),
        Standard("Password-Retry", RadiusAttributeType.PasswordRetry, Integer32),
        Standard("Prompt", RadiusAttributeType.Prompt, Integer32),
        Standard("Connect-Info", RadiusAttributeType.ConnectInfo, Text),
        Standard("Configuration-Token", RadiusAttributeType.ConfigurationToken, Text),
        Standard("EAP-Message", RadiusAttributeType.EapMessage, Octets),
        Standard("Message-Authenticator", RadiusAttributeType.MessageAuthenticator, Octets),
        Standard("ARAP-Challenge-Response", RadiusAttributeType.ArapChallengeResponse, Octets),
        Standard("Acct-Interim-Interval", RadiusAttributeType.AcctInterimInterval, Integer32),
        Standard("NAS-Port-Id", RadiusAttributeType.NasPortId, Text),
        Standard("Framed-Pool", RadiusAttributeType.FramedPool, Text),
        Standard("Chargeable-User-Identity", RadiusAttributeType.ChargeableUserIdentity, Octets),
        Standard("NAS-IPv6-Address", RadiusAttributeType.NasIpv6Address, IPv6Address),
        Standard("Framed-Interface-Id", RadiusAttributeType.FramedInterfaceId, InterfaceId),
        Standard("Framed-IPv6-Prefix", RadiusAttributeType.FramedIpv6Prefix, IPv6Prefix),
        Standard("Error-Cause", RadiusAttributeType.ErrorCause, Integer32),

        Vendor("Cisco-AVPair", RadiusVendorId.Cisco, CiscoAttributeType.AvPair, Text),
        Vendor("Cisco-NAS-Port", RadiusVendorId.Cisco, CiscoAttributeType.NasPort, Text),
        Vendor("Cisco-Disconnect-Cause", RadiusVendorId.Cisco, CiscoAttributeType.DisconnectCause, Integer32),
        Vendor("Cisco-Account-Info", RadiusVendorId.Cisco, CiscoAttributeType.AccountInfo, Text),
        Vendor("Cisco-Service-Info", RadiusVendorId.Cisco, CiscoAttributeType.ServiceInfo, Text),
        Vendor("Cisco-Command-Code", RadiusVendorId.Cisco, CiscoAttributeType.CommandCode, Text),
        Vendor("Cisco-Control-Info", RadiusVendorId.Cisco, CiscoAttributeType.ControlInfo, Text),

        Vendor("Juniper-Local-User-Name", RadiusVendorId.Juniper, JuniperAttributeType.LocalUserName, Text),
        Vendor("Juniper-Allow-Commands", RadiusVendorId.Juniper, JuniperAttributeType.AllowCommands, Text),
        Vendor("Juniper-Deny-Commands", RadiusVendorId.Juniper, JuniperAttributeType.DenyCommands, Text),
        Vendor("Juniper-Allow-Configuration", RadiusVendorId.Juniper, JuniperAttributeType.AllowConfiguration, Text),
        Vendor("Juniper-Deny-Configuration", RadiusVendorId.Juniper, JuniperAttributeType.DenyConfiguration, Text),
        Vendor("Juniper-Interactive-Command", RadiusVendorId.Juniper, JuniperAttributeType.InteractiveCommand, Text),
        Vendor("Juniper-Configuration-Change", RadiusVendorId.Juniper, JuniperAttributeType.ConfigurationChange, Text),
        Vendor("Juniper-User-Permissions", RadiusVendorId.Juniper, JuniperAttributeType.UserPermissions, Text),
        Vendor("Juniper-Primary-Dns", RadiusVendorId.Juniper, JuniperAttributeType.PrimaryDns, IPv4Address),
        Vendor("Juniper-Primary-Wins", RadiusVendorId.Juniper, JuniperAttributeType.PrimaryWins, IPv4Address),
        Vendor("Juniper-Secondary-Dns", RadiusVendorId.Juniper, JuniperAttributeType.SecondaryDns, IPv4Address),
        Vendor("Juniper-Secondary-Wins", RadiusVendorId.Juniper, JuniperAttributeType.SecondaryWins, IPv4Address),
        Vendor("Juniper-Interface-id", RadiusVendorId.Juniper, JuniperAttributeType.InterfaceId, Text),
        Vendor("Juniper-Ip-Pool-Name", RadiusVendorId.Juniper, JuniperAttributeType.IpPoolName, Text),
        Vendor("Juniper-Keep-Alive", RadiusVendorId.Juniper, JuniperAttributeType.KeepAlive, Integer32),
        Vendor("Juniper-CoS-Traffic-Control-Profile", RadiusVendorId.Juniper, JuniperAttributeType.CosTrafficControlProfile, Text),
        Vendor("Juniper-CoS-Parameter", RadiusVendorId.Juniper, JuniperAttributeType.CosParameter, Text),
        Vendor("Juniper-Firewall-filter-name", RadiusVendorId.Juniper, JuniperAttributeType.FirewallFilterName, Text),
        Vendor("Juniper-Policer-Parameter", RadiusVendorId.Juniper, JuniperAttributeType.PolicerParameter, Text),
        Vendor("Juniper-Local-Group-Name", RadiusVendorId.Juniper, JuniperAttributeType.LocalGroupName, Text),
        Vendor("Juniper-AV-Pair", RadiusVendorId.Juniper, JuniperAttributeType.AvPair, Text),

        Vendor("ERX-Virtual-Router-Name", RadiusVendorId.Erx, ErxAttributeType.VirtualRouterName, Text),
        Vendor("ERX-Address-Pool-Name", RadiusVendorId.Erx, ErxAttributeType.AddressPoolName, Text),
        Vendor("ERX-Primary-Dns", RadiusVendorId.Erx, ErxAttributeType.PrimaryDns, IPv4Address),
        Vendor("ERX-Secondary-Dns", RadiusVendorId.Erx, ErxAttributeType.SecondaryDns, IPv4Address),
        Vendor("ERX-Ingress-Policy-Name", RadiusVendorId.Erx, ErxAttributeType.IngressPolicyName, Text),
        Vendor("ERX-Egress-Policy-Name", RadiusVendorId.Erx, ErxAttributeType.EgressPolicyName, Text),
        Vendor("ERX-Ingress-Statistics", RadiusVendorId.Erx, ErxAttributeType.IngressStatistics, Integer32),
        Vendor("ERX-Egress-Statistics", RadiusVendorId.Erx, ErxAttributeType.EgressStatistics, Integer32),
        Vendor("ERX-Qos-Profile-Name", RadiusVendorId.Erx, ErxAttributeType.QosProfileName, Text),
        Vendor("ERX-Framed-Ip-Route-Tag", RadiusVendorId.Erx, ErxAttributeType.FramedIpRouteTag, Text),
        Vendor("ERX-Input-Gigapkts", RadiusVendorId.Erx, ErxAttributeType.InputGigapkts, Integer32),
        Vendor("ERX-Ipv6-Primary-Dns", RadiusVendorId.Erx, ErxAttributeType.Ipv6PrimaryDns, IPv6Address),
        Vendor("ERX-Ipv6-Secondary-Dns", RadiusVendorId.Erx, ErxAttributeType.Ipv6SecondaryDns, IPv6Address),
        Vendor("ERX-Service-Activate", RadiusVendorId.Erx, ErxAttributeType.ServiceActivate, Text),
        Vendor("ERX-Service-Deactivate", RadiusVendorId.Erx, ErxAttributeType.ServiceDeactivate, Text),
        Vendor("ERX-Service-Volume", RadiusVendorId.Erx, ErxAttributeType.ServiceVolume, Integer32),
        Vendor("ERX-Service-Timeout", RadiusVendorId.Erx, ErxAttributeType.ServiceTimeout, Integer32),
        Vendor("ERX-Service-Statistics", RadiusVendorId.Erx, ErxAttributeType.ServiceStatistics, Integer32),
        Vendor("ERX-Qos-Parameters", RadiusVendorId.Erx, ErxAttributeType.QosParameters, Text),
        Vendor("ERX-Service-Session", RadiusVendorId.Erx, ErxAttributeType.ServiceSession, Text),
        Vendor("ERX-IPv6-Ingress-Policy-Name", RadiusVendorId.Erx, ErxAttributeType.Ipv6IngressPolicyName, Text),
        Vendor("ERX-IPv6-Egress-Policy-Name", RadiusVendorId.Erx, ErxAttributeType.Ipv6EgressPolicyName, Text),
        Vendor("ERX-Qos-Set-Name", RadiusVendorId.Erx, ErxAttributeType.QosSetName, Text),

        Vendor("WISPr-Location-ID", RadiusVendorId.Wispr, WisprAttributeType.LocationId, Text),
        Vendor("WISPr-Location-Name", RadiusVendorId.Wispr, WisprAttributeType.LocationName, Text),
        Vendor("WISPr-Logoff-URL", RadiusVendorId.Wispr, WisprAttributeType.LogoffUrl, Text),
        Vendor("WISPr-Redirection-URL", RadiusVendorId.Wispr, WisprAttributeType.RedirectionUrl, Text),
        Vendor("WISPr-Bandwidth-Min-Up", RadiusVendorId.Wispr, WisprAttributeType.BandwidthMinUp, Integer32),
        Vendor("WISPr-Bandwidth-Min-Down", RadiusVendorId.Wispr, WisprAttributeType.BandwidthMinDown, Integer32),
        Vendor("WISPr-Bandwidth-Max-Up", RadiusVendorId.Wispr, WisprAttributeType.BandwidthMaxUp, Integer32),
        Vendor("WISPr-Bandwidth-Max-Down", RadiusVendorId.Wispr, WisprAttributeType.BandwidthMaxDown, Integer32),
        Vendor("WISPr-Session-Terminate-Time", RadiusVendorId.Wispr, WisprAttributeType.SessionTerminateTime, Text),
        Vendor("WISPr-Session-Terminate-End-Of-Day", RadiusVendorId.Wispr, WisprAttributeType.SessionTerminateEndOfDay, Text),
        Vendor("WISPr-Billing-Class-Of-Service", RadiusVendorId.Wispr, WisprAttributeType.BillingClassOfService, Text),

        Vendor("Mikrotik-Recv-Limit", RadiusVendorId.Mikrotik, MikrotikAttributeType.RecvLimit, Integer32),
        Vendor("Mikrotik-Xmit-Limit", RadiusVendorId.Mikrotik, MikrotikAttributeType.XmitLimit, Integer32),
        Vendor("Mikrotik-Group", RadiusVendorId.Mikrotik, MikrotikAttributeType.Group, Text),
        Vendor("Mikrotik-Wireless-Forward", RadiusVendorId.Mikrotik, MikrotikAttributeType.WirelessForward, Integer32),
        Vendor("Mikrotik-Wireless-Skip-Dot1x", RadiusVendorId.Mikrotik, MikrotikAttributeType.WirelessSkipDot1x, Integer32),
        Vendor("Mikrotik-Wireless-Enc-Algo", RadiusVendorId.Mikrotik, MikrotikAttributeType.WirelessEncAlgo, Integer32),
        Vendor("Mikrotik-Wireless-Enc-Key", RadiusVendorId.Mikrotik, MikrotikAttributeType.WirelessEncKey, Text),
        Vendor("Mikrotik-Rate-Limit", RadiusVendorId.Mikrotik, MikrotikAttributeType.RateLimit, Text),
        Vendor("Mikrotik-Realm", RadiusVendorId.Mikrotik, MikrotikAttributeType.Realm, Text),
        Vendor("Mikrotik-Host-IP", RadiusVendorId.Mikrotik, MikrotikAttributeType.HostIp, IPv4Address),
        Vendor("Mikrotik-Mark-Id", RadiusVendorId.Mikrotik, MikrotikAttributeType.MarkId, Text),
        Vendor("Mikrotik-Advertise-URL", RadiusVendorId.Mikrotik, MikrotikAttributeType.AdvertiseUrl, Text),
        Vendor("Mikrotik-Advertise-Interval", RadiusVendorId.Mikrotik, MikrotikAttributeType.AdvertiseInterval, Integer32),
        Vendor("Mikrotik-Recv-Limit-Gigawords", RadiusVendorId.Mikrotik, MikrotikAttributeType.RecvLimitGigawords, Integer32),
        Vendor("Mikrotik-Xmit-Limit-Gigawords", RadiusVendorId.Mikrotik, MikrotikAttributeType.XmitLimitGigawords, Integer32),
        Vendor("Mikrotik-Wireless-PSK", RadiusVendorId.Mikrotik, MikrotikAttributeType.WirelessPsk, Text),
        Vendor("Mikrotik-Total-Limit", RadiusVendorId.Mikrotik, MikrotikAttributeType.TotalLimit, Integer32),
        Vendor("Mikrotik-Total-Limit-Gigawords", RadiusVendorId.Mikrotik, MikrotikAttributeType.TotalLimitGigawords, Integer32),
        Vendor("Mikrotik-Address-List", RadiusVendorId.Mikrotik, MikrotikAttributeType.AddressList, Text),
        Vendor("Mikrotik-Wireless-MPKey", RadiusVendorId.Mikrotik, MikrotikAttributeType.WirelessMpKey, Text),
        Vendor("Mikrotik-Wireless-Comment", RadiusVendorId.Mikrotik, MikrotikAttributeType.WirelessComment, Text),
        Vendor("Mikrotik-Delegated-IPv6-Pool", RadiusVendorId.Mikrotik, MikrotikAttributeType.DelegatedIpv6Pool, Text),
        Vendor("Mikrotik-DHCP-Option-Set", RadiusVendorId.Mikrotik, MikrotikAttributeType.DhcpOptionSet, Text),
        Vendor("Mikrotik-DHCP-Option-Param-STR1", RadiusVendorId.Mikrotik, MikrotikAttributeType.DhcpOptionParamStr1, Text),
        Vendor("Mikrotik-DHCP-Option-Param-STR2", RadiusVendorId.Mikrotik, MikrotikAttributeType.DhcpOptionParamStr2, Text),
        Vendor("Mikrotik-Wireless-VLANID", RadiusVendorId.Mikrotik, MikrotikAttributeType.WirelessVlanId, Integer32),
        Vendor("Mikrotik-Wireless-VLANID-Type", RadiusVendorId.Mikrotik, MikrotikAttributeType.WirelessVlanIdType, Integer32),
        Vendor("Mikrotik-Wireless-Minsignal", RadiusVendorId.Mikrotik, MikrotikAttributeType.WirelessMinSignal, Text),
        Vendor("Mikrotik-Wireless-Maxsignal", RadiusVendorId.Mikrotik, MikrotikAttributeType.WirelessMaxSignal, Text),
        Vendor("Mikrotik-Switching-Filter", RadiusVendorId.Mikrotik, MikrotikAttributeType.SwitchingFilter, Text),
    ];

    private static readonly RadiusAttributeDefinition?[] _standardByType = IndexStandard();

    private static readonly FrozenDictionary<ulong, RadiusAttributeDefinition> _vendorByKey =
        _definitions.Where(d => d.IsVendorSpecific).ToFrozenDictionary(d => VendorKey(d.VendorId, d.Type));

    private static readonly FrozenDictionary<string, RadiusAttributeDefinition> _byName =
        _definitions.ToFrozenDictionary(d => d.Name, StringComparer.OrdinalIgnoreCase);

    private static readonly FrozenDictionary<uint, string> _vendorNames = new Dictionary<uint, string>
    {
        [RadiusVendorId.Cisco] = "Cisco",
        [RadiusVendorId.Juniper] = "Juniper",
        [RadiusVendorId.Erx] = "ERX",
        [RadiusVendorId.Wispr] = "WISPr",
        [RadiusVendorId.Mikrotik] = "Mikrotik",
    }.ToFrozenDictionary();

    /// <summary>Every attribute this dictionary knows: the standard ones first, then the vendor ones.</summary>
    public static IReadOnlyList<RadiusAttributeDefinition> All { get; } = Array.AsReadOnly(_definitions);

    /// <summary>Looks up a standard attribute by Type.</summary>
    public static bool TryGetAttribute(byte type, out RadiusAttributeDefinition definition)
    {
        var found = _standardByType[type];
        definition = found.GetValueOrDefault();
        return found.HasValue;
    }

    /// <summary>Looks up a vendor attribute by vendor and vendor type.</summary>
    public static bool TryGetVendorAttribute(uint vendorId, byte vendorType, out RadiusAttributeDefinition definition) =>
        _vendorByKey.TryGetValue(VendorKey(vendorId, vendorType), out definition);

    /// <summary>Looks up an attribute by name, ignoring case: <c>"Mikrotik-Rate-Limit"</c>, <c>"Session-Timeout"</c>.</summary>
    public static bool TryGetAttribute(string name, out RadiusAttributeDefinition definition)
    {
        ArgumentNullException.ThrowIfNull(name);
        return _byName.TryGetValue(name, out definition);
    }

    /// <summary>The name of a vendor this dictionary knows.</summary>
    public static bool TryGetVendorName(uint vendorId, [NotNullWhen(true)] out string? name) =>
        _vendorNames.TryGetValue(vendorId, out name);

    private static RadiusAttributeDefinition Standard(string name, byte type, RadiusDataType dataType) => new(name, 0, type, dataType);

    private static RadiusAttributeDefinition Vendor(string name, uint vendorId, byte type, RadiusDataType dataType) => new(name, vendorId, type, dataType);

    private static ulong VendorKey(uint vendorId, byte vendorType) => ((ulong)vendorId << 8) | vendorType;

    private static RadiusAttributeDefinition?[] IndexStandard()
    {
        var index = new RadiusAttributeDefinition?[256];
        foreach (var definition in _definitions)
        {
            if (!definition.IsVendorSpecific)
            {
                index[definition.Type] = definition;
            }
        }

        return index;
    }
}
