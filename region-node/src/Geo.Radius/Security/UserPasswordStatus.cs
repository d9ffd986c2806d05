namespace Geo.Radius.Security;

/// <summary>The outcome of hiding or recovering a User-Password (RFC 2865 §5.2).</summary>
public enum UserPasswordStatus
{
    /// <summary>Done.</summary>
    Ok = 0,

    /// <summary>The request carries no User-Password attribute.</summary>
    Absent,

    /// <summary>The hidden value is not a multiple of 16 octets between 16 and 128.</summary>
    InvalidLength,

    /// <summary>The password is longer than 128 octets.</summary>
    PasswordTooLong,

    /// <summary>The destination buffer is too small for the result.</summary>
    DestinationTooSmall,

    /// <summary>The Request Authenticator is not 16 octets.</summary>
    InvalidAuthenticator,
}
