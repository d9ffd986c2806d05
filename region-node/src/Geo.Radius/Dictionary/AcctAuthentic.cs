namespace Geo.Radius.Dictionary;

/// <summary>Values of Acct-Authentic (RFC 2866 §5.6).</summary>
public enum AcctAuthentic
{
    /// <summary>Authenticated by RADIUS.</summary>
    Radius = 1,

    /// <summary>Authenticated locally by the NAS.</summary>
    Local = 2,

    /// <summary>Authenticated by another remote protocol.</summary>
    Remote = 3,
}
