namespace Geo.Directory.Tenants;

/// <summary>One ISP operating on the platform.</summary>
/// <param name="Id">Lower-case id, part of shard database names.</param>
/// <param name="DisplayName">Name for people.</param>
public sealed record Tenant(string Id, string DisplayName);
