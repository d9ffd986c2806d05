namespace Geo.Radius.Dictionary;

/// <summary>Values of Framed-Routing (RFC 2865 §5.10).</summary>
public enum FramedRouting
{
    /// <summary>None.</summary>
    None = 0,

    /// <summary>Send routing packets.</summary>
    Broadcast = 1,

    /// <summary>Listen for routing packets.</summary>
    Listen = 2,

    /// <summary>Send and Listen.</summary>
    BroadcastListen = 3,
}
