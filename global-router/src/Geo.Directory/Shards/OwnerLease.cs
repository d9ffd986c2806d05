namespace Geo.Directory.Shards;

/// <summary>
/// A region's lease on a shard it owns, at one epoch. The nodes of the owner region renew it about every second with
/// a TTL of about 4 s (<see cref="IDirectoryStore.RenewOwnerLeasesAsync"/>); a promotion waits until the old owner's
/// lease has expired before it makes the standby the owner. Times are on the directory's clock.
/// </summary>
/// <param name="Key">The shard.</param>
/// <param name="Holder">The owner region holding it.</param>
/// <param name="Epoch">The shard's epoch it was granted at.</param>
/// <param name="ExpiresAt">When it lapses unless renewed.</param>
/// <param name="RenewedAt">When it was last granted or renewed.</param>
public sealed record OwnerLease(ShardKey Key, string Holder, long Epoch, DateTimeOffset ExpiresAt, DateTimeOffset RenewedAt);

/// <summary>What a renewal granted, with the directory's clock at the time.</summary>
/// <param name="DirectoryNow">The directory's clock when the leases were granted (each granted lease's <see cref="OwnerLease.RenewedAt"/>).</param>
/// <param name="Granted">The leases granted or renewed; a shard asked for but absent here was refused (its owner, epoch or state moved).</param>
public sealed record OwnerLeaseRenewal(DateTimeOffset DirectoryNow, IReadOnlyList<OwnerLease> Granted);

/// <summary>Every owner lease, with the directory's clock at the time of reading.</summary>
/// <param name="DirectoryNow">The directory's clock when the leases were read: a lease with <see cref="OwnerLease.ExpiresAt"/> at or before it has expired.</param>
/// <param name="Leases">Every lease, expired ones too, by shard.</param>
public sealed record OwnerLeaseView(DateTimeOffset DirectoryNow, IReadOnlyList<OwnerLease> Leases);

/// <summary>The rules of owner leases every store applies alike.</summary>
internal static class OwnerLeases
{
    /// <summary>Throws for arguments no store accepts.</summary>
    public static void ValidateRenewal(string region, IReadOnlyList<(ShardKey Key, long Epoch)> shards, TimeSpan ttl)
    {
        ArgumentException.ThrowIfNullOrEmpty(region);
        ArgumentNullException.ThrowIfNull(shards);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ttl, TimeSpan.Zero);
    }

    /// <summary>Whether <paramref name="region"/> may hold <paramref name="shard"/>'s owner lease at <paramref name="epoch"/>.</summary>
    public static bool IsGrantable(Shard shard, string region, long epoch) =>
        shard.OwnerRegion == region && shard.Epoch == epoch && (shard.State is ShardState.Active or ShardState.Retiring);

    /// <summary>Leases in the order the stores list them: by tenant, then home region.</summary>
    public static List<OwnerLease> Ordered(IEnumerable<OwnerLease> leases) =>
        [.. leases.OrderBy(l => l.Key.TenantId, StringComparer.Ordinal).ThenBy(l => l.Key.HomeRegion, StringComparer.Ordinal)];
}
