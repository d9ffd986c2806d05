namespace Geo.Radius.Dictionary;

/// <summary>Values of Framed-Protocol (RFC 2865 §5.7; 7 from the IANA registry).</summary>
public enum FramedProtocol
{
    /// <summary>PPP.</summary>
    Ppp = 1,

    /// <summary>SLIP.</summary>
    Slip = 2,

    /// <summary>AppleTalk Remote Access Protocol.</summary>
    Arap = 3,

    /// <summary>Gandalf proprietary SingleLink/MultiLink.</summary>
    GandalfSlml = 4,

    /// <summary>Xylogics proprietary IPX/SLIP.</summary>
    XylogicsIpxSlip = 5,

    /// <summary>X.75 Synchronous.</summary>
    X75Synchronous = 6,

    /// <summary>GPRS PDP Context (3GPP TS 29.061).</summary>
    GprsPdpContext = 7,
}
