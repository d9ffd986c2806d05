namespace Geo.Radius.Dictionary;

/// <summary>WISPr vendor attribute numbers (vendor 14122).</summary>
public static class WisprAttributeType
{
    public const byte LocationId = 1;
    public const byte LocationName = 2;
    public const byte LogoffUrl = 3;
    public const byte RedirectionUrl = 4;
    public const byte BandwidthMinUp = 5;
    public const byte BandwidthMinDown = 6;

    /// <summary>WISPr-Bandwidth-Max-Up, bits per second.</summary>
    public const byte BandwidthMaxUp = 7;

    /// <summary>WISPr-Bandwidth-Max-Down, bits per second.</summary>
    public const byte BandwidthMaxDown = 8;

    /// <summary>WISPr-Session-Terminate-Time, ISO 8601 text such as <c>"2025-01-31T23:59:59+00:00"</c>.</summary>
    public const byte SessionTerminateTime = 9;

    public const byte SessionTerminateEndOfDay = 10;
    public const byte BillingClassOfService = 11;
}
