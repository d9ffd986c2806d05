namespace Geo.Radius.Security;

/// <summary>The outcome of checking a CHAP-Password (RFC 2865 §5.3).</summary>
public enum ChapStatus
{
    /// <summary>The CHAP response matches the password.</summary>
    Valid = 0,

    /// <summary>The CHAP response does not match the password.</summary>
    Invalid,

    /// <summary>The request carries no CHAP-Password attribute.</summary>
    Absent,

    /// <summary>The CHAP-Password is not 17 octets, or the CHAP-Challenge is empty.</summary>
    Malformed,
}
