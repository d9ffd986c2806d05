namespace Geo.Directory;

/// <summary>
/// HTTP headers between the router, the regions and clients.
/// Router → region: <see cref="Shard"/> and <see cref="Epoch"/> name the shard and the epoch the router
/// believes current; a region that does not own that shard at that epoch answers 421 Misdirected Request
/// (the router reloads the directory and retries once) and never applies a write.
/// Router → client: <see cref="Region"/> and <see cref="Epoch"/> say who answered at which epoch.
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
