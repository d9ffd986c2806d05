namespace Geo.Directory.Regions;

/// <summary>A data center running the full regional stack: its API endpoint and its RADIUS endpoints.</summary>
/// <param name="Id">Short slug: <c>a</c>, <c>b</c>, <c>eu-west</c>.</param>
/// <param name="DisplayName">Name for people.</param>
/// <param name="ApiUrl">Base URL of the region's subscriber and billing API (behind it: the region nodes).</param>
/// <param name="RadiusHost">Host or address NAS devices and other regions send RADIUS to.</param>
/// <param name="RadiusAuthPort">UDP port of Access-Request.</param>
/// <param name="RadiusAcctPort">UDP port of Accounting-Request.</param>
public sealed record Region(string Id, string DisplayName, Uri ApiUrl, string RadiusHost, int RadiusAuthPort, int RadiusAcctPort);

/// <summary>What is known of a region's health.</summary>
public enum RegionHealth
{
    /// <summary>Not checked yet; treated as available so that a fresh process routes at once.</summary>
    Unknown,

    /// <summary>The last check passed.</summary>
    Healthy,

    /// <summary>The last check or forward failed; its shards answer 503 until a check passes again.</summary>
    Down,
}
