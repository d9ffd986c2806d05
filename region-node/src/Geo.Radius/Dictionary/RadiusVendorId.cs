namespace Geo.Radius.Dictionary;

/// <summary>SMI Private Enterprise Codes of the vendors whose attributes carriers' NAS devices use.</summary>
public static class RadiusVendorId
{
    /// <summary>Cisco Systems.</summary>
    public const uint Cisco = 9;

    /// <summary>Juniper Networks (Junos MX/SRX).</summary>
    public const uint Juniper = 2636;

    /// <summary>Unisphere / Juniper E-series and BNG attributes (the FreeRADIUS "ERX" dictionary).</summary>
    public const uint Erx = 4874;

    /// <summary>Wi-Fi Alliance WISPr.</summary>
    public const uint Wispr = 14122;

    /// <summary>MikroTik (RouterOS).</summary>
    public const uint Mikrotik = 14988;
}
