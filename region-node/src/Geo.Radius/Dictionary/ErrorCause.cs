namespace Geo.Radius.Dictionary;

/// <summary>Values of Error-Cause (RFC 5176 §3.5): 2xx success, 4xx fatal client errors, 5xx fatal NAS errors.</summary>
public enum ErrorCause
{
    /// <summary>Residual Session Context Removed (in a Disconnect-ACK).</summary>
    ResidualSessionContextRemoved = 201,

    /// <summary>Invalid EAP Packet (Ignored).</summary>
    InvalidEapPacket = 202,

    /// <summary>Unsupported Attribute.</summary>
    UnsupportedAttribute = 401,

    /// <summary>Missing Attribute.</summary>
    MissingAttribute = 402,

    /// <summary>NAS Identification Mismatch.</summary>
    NasIdentificationMismatch = 403,

    /// <summary>Invalid Request.</summary>
    InvalidRequest = 404,

    /// <summary>Unsupported Service.</summary>
    UnsupportedService = 405,

    /// <summary>Unsupported Extension.</summary>
    UnsupportedExtension = 406,

    /// <summary>Invalid Attribute Value.</summary>
    InvalidAttributeValue = 407,

    /// <summary>Administratively Prohibited.</summary>
    AdministrativelyProhibited = 501,

    /// <summary>Request Not Routable (Proxy).</summary>
    RequestNotRoutable = 502,

    /// <summary>Session Context Not Found.</summary>
    SessionContextNotFound = 503,

    /// <summary>Session Context Not Removable.</summary>
    SessionContextNotRemovable = 504,

    /// <summary>Other Proxy Processing Error.</summary>
    OtherProxyProcessingError = 505,

    /// <summary>Resources Unavailable.</summary>
    ResourcesUnavailable = 506,

    /// <summary>Request Initiated.</summary>
    RequestInitiated = 507,

    /// <summary>Multiple Session Selection Unsupported.</summary>
    MultipleSessionSelectionUnsupported = 508,
}
