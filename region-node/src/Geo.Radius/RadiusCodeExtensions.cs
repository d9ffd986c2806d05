namespace Geo.Radius;

/// <summary>
/// Classifies <see cref="RadiusCode"/> values: which codes this codec knows, which are requests and which
/// are responses, and how each request's authenticator is formed.
/// </summary>
public static class RadiusCodeExtensions
{
    /// <summary>Whether <paramref name="code"/> is one of the codes this codec reads and writes.</summary>
    public static bool IsKnown(this RadiusCode code) => code switch
    {
        RadiusCode.AccessRequest or RadiusCode.AccessAccept or RadiusCode.AccessReject
            or RadiusCode.AccountingRequest or RadiusCode.AccountingResponse
            or RadiusCode.AccessChallenge or RadiusCode.StatusServer
            or RadiusCode.DisconnectRequest or RadiusCode.DisconnectAck or RadiusCode.DisconnectNak
            or RadiusCode.CoARequest or RadiusCode.CoAAck or RadiusCode.CoANak => true,
        _ => false,
    };

    /// <summary>Whether <paramref name="code"/> is sent by a client (a NAS, or this server acting as one).</summary>
    public static bool IsRequest(this RadiusCode code) => code is RadiusCode.AccessRequest
        or RadiusCode.AccountingRequest or RadiusCode.StatusServer
        or RadiusCode.DisconnectRequest or RadiusCode.CoARequest;

    /// <summary>Whether <paramref name="code"/> answers a request (its authenticator is a Response Authenticator).</summary>
    public static bool IsResponse(this RadiusCode code) => code.IsKnown() && !code.IsRequest();

    /// <summary>
    /// Whether the Request Authenticator of <paramref name="code"/> is an MD5 over the packet and the secret
    /// (Accounting-Request, RFC 2866 §3; Disconnect-Request and CoA-Request, RFC 5176 §2.3) rather than
    /// 16 random octets (Access-Request, Status-Server).
    /// </summary>
    public static bool HasComputedRequestAuthenticator(this RadiusCode code) => code is RadiusCode.AccountingRequest
        or RadiusCode.DisconnectRequest or RadiusCode.CoARequest;
}
