namespace Geo.Radius.Security;

/// <summary>The outcome of checking a packet's Message-Authenticator (RFC 2869 §5.14, RFC 3579 §3.2).</summary>
public enum MessageAuthenticatorStatus
{
    /// <summary>The packet carries no Message-Authenticator. Whether that is acceptable is the caller's policy.</summary>
    Absent = 0,

    /// <summary>The Message-Authenticator matches.</summary>
    Valid,

    /// <summary>
    /// The Message-Authenticator does not match, is not 18 octets, appears more than once, or the packet is not
    /// well formed. The packet must be silently discarded.
    /// </summary>
    Invalid,
}
