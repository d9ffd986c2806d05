using System.Net;

namespace Geo.Directory.Nas;

/// <summary>An operator's access device (BNG, AP controller) that speaks RADIUS to Geo.</summary>
/// <param name="TenantId">The tenant operating it.</param>
/// <param name="Id">Its id, unique within the tenant.</param>
/// <param name="Address">Source address of its RADIUS packets; unique platform-wide.</param>
/// <param name="PrimaryRegion">The region it sends RADIUS to first; new subscribers behind it are homed there.</param>
/// <param name="BackupRegion">The region it fails over to, if any.</param>
public sealed record NasDevice(string TenantId, string Id, IPAddress Address, string PrimaryRegion, string? BackupRegion);
