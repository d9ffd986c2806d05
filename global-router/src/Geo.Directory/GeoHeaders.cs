namespace Geo.Directory;

/// <summary>
/// HTTP headers between router, regions and clients. <see cref="Shard"/> and <see cref="Epoch"/> carry the router's view;
/// a region not owning that shard at that epoch answers 421 and never applies a write (the router reloads and retries
/// once). <see cref="Region"/> and <see cref="Epoch"/> tell the client who answered at which epoch.
/// </summary>
public static class GeoHeaders
{
    /// <summary>The region that answered (a fan-out lists every region asked, comma-separated).</summary>
    public const string Region = "Geo-Region";

    /// <summary>The shard's epoch the request was sent at (a fan-out: <c>tenant@home=epoch</c>, comma-separated).</summary>
    public const string Epoch = "Geo-Epoch";

    /// <summary>The shard the request is for: <c>tenant@home</c>.</summary>
    public const string Shard = "Geo-Shard";
}
