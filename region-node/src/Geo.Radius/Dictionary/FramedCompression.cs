namespace Geo.Radius.Dictionary;

/// <summary>Values of Framed-Compression (RFC 2865 §5.13).</summary>
public enum FramedCompression
{
    /// <summary>None.</summary>
    None = 0,

    /// <summary>VJ TCP/IP header compression.</summary>
    VanJacobsonTcpIp = 1,

    /// <summary>IPX header compression.</summary>
    IpxHeaderCompression = 2,

    /// <summary>Stac-LZS compression.</summary>
    StacLzs = 3,
}
