namespace Geo.Radius.Dictionary;

/// <summary>Values of Service-Type (RFC 2865 §5.6, RFC 5176 §3.2).</summary>
public enum ServiceType
{
    /// <summary>Login.</summary>
    LoginUser = 1,

    /// <summary>Framed (PPP, IPoE): the usual subscriber service.</summary>
    FramedUser = 2,

    /// <summary>Callback Login.</summary>
    CallbackLoginUser = 3,

    /// <summary>Callback Framed.</summary>
    CallbackFramedUser = 4,

    /// <summary>Outbound.</summary>
    OutboundUser = 5,

    /// <summary>Administrative.</summary>
    AdministrativeUser = 6,

    /// <summary>NAS Prompt.</summary>
    NasPromptUser = 7,

    /// <summary>Authenticate Only.</summary>
    AuthenticateOnly = 8,

    /// <summary>Callback NAS Prompt.</summary>
    CallbackNasPrompt = 9,

    /// <summary>Call Check.</summary>
    CallCheck = 10,

    /// <summary>Callback Administrative.</summary>
    CallbackAdministrative = 11,

    /// <summary>Authorize Only (RFC 5176 §3.2): a CoA-Request asking the NAS to re-authorize.</summary>
    AuthorizeOnly = 17,
}
