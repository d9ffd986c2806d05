namespace Geo.Radius;

/// <summary>
/// The RADIUS packet Code field (RFC 2865 §3, RFC 2866 §3, RFC 5176 §2.3, RFC 5997 §2).
/// </summary>
public enum RadiusCode
{
    /// <summary>Access-Request (RFC 2865 §4.1).</summary>
    AccessRequest = 1,

    /// <summary>Access-Accept (RFC 2865 §4.2).</summary>
    AccessAccept = 2,

    /// <summary>Access-Reject (RFC 2865 §4.3).</summary>
    AccessReject = 3,

    /// <summary>Accounting-Request (RFC 2866 §4.1).</summary>
    AccountingRequest = 4,

    /// <summary>Accounting-Response (RFC 2866 §4.2).</summary>
    AccountingResponse = 5,

    /// <summary>Access-Challenge (RFC 2865 §4.4).</summary>
    AccessChallenge = 11,

    /// <summary>Status-Server (RFC 5997).</summary>
    StatusServer = 12,

    /// <summary>Disconnect-Request (RFC 5176 §3.1).</summary>
    DisconnectRequest = 40,

    /// <summary>Disconnect-ACK (RFC 5176 §3.1).</summary>
    DisconnectAck = 41,

    /// <summary>Disconnect-NAK (RFC 5176 §3.1).</summary>
    DisconnectNak = 42,

    /// <summary>CoA-Request (RFC 5176 §3.2).</summary>
    CoARequest = 43,

    /// <summary>CoA-ACK (RFC 5176 §3.2).</summary>
    CoAAck = 44,

    /// <summary>CoA-NAK (RFC 5176 §3.2).</summary>
    CoANak = 45,
}
