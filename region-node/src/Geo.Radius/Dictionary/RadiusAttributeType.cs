namespace Geo.Radius.Dictionary;

/// <summary>
/// Standard attribute Type numbers: RFC 2865 (authentication), RFC 2866 (accounting), RFC 2869 (extensions,
/// EAP-Message, Message-Authenticator), RFC 5176 (Error-Cause), and the RFC 3162 / RFC 4372 attributes that
/// RFC 5176 uses to identify a NAS or a session.
/// </summary>
public static class RadiusAttributeType
{
    public const byte UserName = 1;
    public const byte UserPassword = 2;
    public const byte ChapPassword = 3;
    public const byte NasIpAddress = 4;
    public const byte NasPort = 5;
    public const byte ServiceType = 6;
    public const byte FramedProtocol = 7;
    public const byte FramedIpAddress = 8;
    public const byte FramedIpNetmask = 9;
    public const byte FramedRouting = 10;
    public const byte FilterId = 11;
    public const byte FramedMtu = 12;
    public const byte FramedCompression = 13;
    public const byte LoginIpHost = 14;
    public const byte LoginService = 15;
    public const byte LoginTcpPort = 16;
    public const byte ReplyMessage = 18;
    public const byte CallbackNumber = 19;
    public const byte CallbackId = 20;
    public const byte FramedRoute = 22;
    public const byte FramedIpxNetwork = 23;
    public const byte State = 24;
    public const byte Class = 25;
    public const byte VendorSpecific = 26;
    public const byte SessionTimeout = 27;
    public const byte IdleTimeout = 28;
    public const byte TerminationAction = 29;
    public const byte CalledStationId = 30;
    public const byte CallingStationId = 31;
    public const byte NasIdentifier = 32;
    public const byte ProxyState = 33;
    public const byte LoginLatService = 34;
    public const byte LoginLatNode = 35;
    public const byte LoginLatGroup = 36;
    public const byte FramedAppleTalkLink = 37;
    public const byte FramedAppleTalkNetwork = 38;
    public const byte FramedAppleTalkZone = 39;

    public const byte AcctStatusType = 40;
    public const byte AcctDelayTime = 41;
    public const byte AcctInputOctets = 42;
    public const byte AcctOutputOctets = 43;
    public const byte AcctSessionId = 44;
    public const byte AcctAuthentic = 45;
    public const byte AcctSessionTime = 46;
    public const byte AcctInputPackets = 47;
    public const byte AcctOutputPackets = 48;
    public const byte AcctTerminateCause = 49;
    public const byte AcctMultiSessionId = 50;
    public const byte AcctLinkCount = 51;

    public const byte AcctInputGigawords = 52;
    public const byte AcctOutputGigawords = 53;
    public const byte EventTimestamp = 55;

    public const byte ChapChallenge = 60;
    public const byte NasPortType = 61;
    public const byte PortLimit = 62;
    public const byte LoginLatPort = 63;

    public const byte ArapPassword = 70;
    public const byte ArapFeatures = 71;
    public const byte ArapZoneAccess = 72;
    public const byte ArapSecurity = 73;
    public const byte ArapSecurityData = 74;
    public const byte PasswordRetry = 75;
    public const byte Prompt = 76;
    public const byte ConnectInfo = 77;
    public const byte ConfigurationToken = 78;
    public const byte EapMessage = 79;
    public const byte MessageAuthenticator = 80;
    public const byte ArapChallengeResponse = 84;
    public const byte AcctInterimInterval = 85;
    public const byte NasPortId = 87;
    public const byte FramedPool = 88;

    /// <summary>Chargeable-User-Identity (RFC 4372).</summary>
    public const byte ChargeableUserIdentity = 89;

    /// <summary>NAS-IPv6-Address (RFC 3162).</summary>
    public const byte NasIpv6Address = 95;

    /// <summary>Framed-Interface-Id (RFC 3162).</summary>
    public const byte FramedInterfaceId = 96;

    /// <summary>Framed-IPv6-Prefix (RFC 3162).</summary>
    public const byte FramedIpv6Prefix = 97;

    /// <summary>Error-Cause (RFC 5176 §3.5).</summary>
    public const byte ErrorCause = 101;
}
