namespace Geo.Radius.Dictionary;

/// <summary>Values of Acct-Status-Type (RFC 2866 §5.1).</summary>
public enum AcctStatusType
{
    /// <summary>Start: a session began.</summary>
    Start = 1,

    /// <summary>Stop: a session ended; the counters are final.</summary>
    Stop = 2,

    /// <summary>Interim-Update (RFC 2869 §2.1): the cumulative counters of a running session.</summary>
    InterimUpdate = 3,

    /// <summary>Accounting-On: the NAS started; it has no sessions.</summary>
    AccountingOn = 7,

    /// <summary>Accounting-Off: the NAS is stopping; all its sessions end.</summary>
    AccountingOff = 8,

    /// <summary>Failed (value 15 of the IANA registry): a session failed to start.</summary>
    Failed = 15,
}
