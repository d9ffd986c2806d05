namespace Geo.Radius.Dictionary;

/// <summary>Values of Acct-Terminate-Cause (RFC 2866 §5.10; 19–22 from RFC 3580).</summary>
public enum AcctTerminateCause
{
    /// <summary>User Request.</summary>
    UserRequest = 1,

    /// <summary>Lost Carrier.</summary>
    LostCarrier = 2,

    /// <summary>Lost Service.</summary>
    LostService = 3,

    /// <summary>Idle Timeout.</summary>
    IdleTimeout = 4,

    /// <summary>Session Timeout.</summary>
    SessionTimeout = 5,

    /// <summary>Admin Reset (e.g. after a Disconnect-Request).</summary>
    AdminReset = 6,

    /// <summary>Admin Reboot.</summary>
    AdminReboot = 7,

    /// <summary>Port Error.</summary>
    PortError = 8,

    /// <summary>NAS Error.</summary>
    NasError = 9,

    /// <summary>NAS Request.</summary>
    NasRequest = 10,

    /// <summary>NAS Reboot.</summary>
    NasReboot = 11,

    /// <summary>Port Unneeded.</summary>
    PortUnneeded = 12,

    /// <summary>Port Preempted.</summary>
    PortPreempted = 13,

    /// <summary>Port Suspended.</summary>
    PortSuspended = 14,

    /// <summary>Service Unavailable.</summary>
    ServiceUnavailable = 15,

    /// <summary>Callback.</summary>
    Callback = 16,

    /// <summary>User Error.</summary>
    UserError = 17,

    /// <summary>Host Request.</summary>
    HostRequest = 18,

    /// <summary>Supplicant Restart (RFC 3580).</summary>
    SupplicantRestart = 19,

    /// <summary>Reauthentication Failure (RFC 3580).</summary>
    ReauthenticationFailure = 20,

    /// <summary>Port Reinitialized (RFC 3580).</summary>
    PortReinitialized = 21,

    /// <summary>Port Administratively Disabled (RFC 3580).</summary>
    PortAdministrativelyDisabled = 22,
}
