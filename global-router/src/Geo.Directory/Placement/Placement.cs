namespace Geo.Directory.Placement;

/// <summary>Where a subscriber lives: its home region, hence its shard <c>tenant@home</c>.</summary>
/// <param name="TenantId">The tenant.</param>
/// <param name="Username">The subscriber's username, unique within the tenant.</param>
/// <param name="HomeRegion">The home region of the subscriber's shard.</param>
/// <param name="CreatedAt">When the placement was written (orphan clean-up looks only at old ones).</param>
public sealed record SubscriberPlacement(string TenantId, string Username, string HomeRegion, DateTimeOffset CreatedAt);

/// <summary>One change to placements as a store's watch reports it.</summary>
/// <param name="TenantId">The tenant.</param>
/// <param name="Username">The subscriber's username.</param>
/// <param name="HomeRegion">The new home region, or null when the placement was removed.</param>
public readonly record struct PlacementChange(string TenantId, string Username, string? HomeRegion);
