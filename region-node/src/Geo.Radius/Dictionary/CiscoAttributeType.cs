namespace Geo.Radius.Dictionary;

/// <summary>Cisco vendor attribute numbers (vendor 9).</summary>
public static class CiscoAttributeType
{
    /// <summary>Cisco-AVPair, text <c>"protocol:attribute=value"</c>, e.g. <c>"subscriber:command=account-logoff"</c>.</summary>
    public const byte AvPair = 1;

    public const byte NasPort = 2;
    public const byte DisconnectCause = 195;

    /// <summary>Cisco-Account-Info (ISG), e.g. <c>"S10.0.0.1"</c> or <c>"A&lt;service&gt;"</c>.</summary>
    public const byte AccountInfo = 250;

    public const byte ServiceInfo = 251;
    public const byte CommandCode = 252;
    public const byte ControlInfo = 253;
}
