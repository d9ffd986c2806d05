using System.Diagnostics;
using Geo.RegionNode.Accounting;
using Npgsql;

namespace Geo.RegionNode.Shards;

/// <summary>
/// A shard this region owns now: its database, the epoch it holds, its plans and its accounting writer. Or, with
/// <see cref="IsReplica"/>, a shard this region stands by for: its read-only replica, read to keep the owner's
/// subscribers online when the owner cannot be reached (survivability); never written, never leased, never cached.
/// </summary>
internal sealed class ShardHandle(string tenantId, string homeRegion, string databaseName, long epoch, NpgsqlDataSource dataSource) : IAsyncDisposable
{
    private long _epoch = epoch;

    // Stopwatch timestamp until which this node may act as the shard's owner (its owner lease, less a margin); 0: never held.
    private long _leaseValidUntil;
    private volatile IReadOnlyDictionary<string, Plan> _plans = new Dictionary<string, Plan>();

    public string TenantId { get; } = tenantId;

    public string HomeRegion { get; } = homeRegion;

    public string DatabaseName { get; } = databaseName;

    /// <summary>True for a standby's replica: read only, to answer for an unreachable owner.</summary>
    public bool IsReplica { get; init; }

    /// <summary>For a replica, the region that owns the shard (null while it is being promoted).</summary>
    public string? OwnerRegion { get; set; }

    public NpgsqlDataSource DataSource { get; } = dataSource;

    /// <summary>The epoch this node holds; every write transaction checks it against the shard's fence.</summary>
    public long Epoch
    {
        get => Interlocked.Read(ref _epoch);
        set => Interlocked.Exchange(ref _epoch, value);
    }

    /// <summary>
    /// Whether this node holds the shard's owner lease now (monotonic clock). Without it the node acknowledges nothing
    /// for the shard: RADIUS stays silent (the NAS fails over to its backup), the API answers 503, no CoA is sent, and
    /// a write transaction is rolled back instead of committed.
    /// </summary>
    public bool HoldsLease => Stopwatch.GetTimestamp() < Volatile.Read(ref _leaseValidUntil);

    /// <summary>Until when (Stopwatch timestamp) the lease is held; 0 when it never was.</summary>
    public long LeaseValidUntil => Volatile.Read(ref _leaseValidUntil);

    /// <summary>The lease holds until <paramref name="validUntil"/> (a Stopwatch timestamp); never moves it back.</summary>
    public void ExtendLease(long validUntil)
    {
        var current = Volatile.Read(ref _leaseValidUntil);
        while (validUntil > current)
        {
            var seen = Interlocked.CompareExchange(ref _leaseValidUntil, validUntil, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    /// <summary>The lease is gone (refused by the directory, or a newer epoch seen): fenced at once.</summary>
    public void RevokeLease() => Interlocked.Exchange(ref _leaseValidUntil, 0);

    /// <summary>The region holding the shard's replica (from the directory), asked in a directory outage; null when none.</summary>
    public string? StandbyRegion { get; set; }

    public IReadOnlyDictionary<string, Plan> Plans
    {
        get => _plans;
        set => _plans = value;
    }

    public AccountingWriter? Writer { get; set; }

    public override string ToString() => $"{TenantId}@{HomeRegion}";

    public async ValueTask DisposeAsync()
    {
        if (Writer is not null)
        {
            await Writer.DisposeAsync();
        }

        await DataSource.DisposeAsync();
    }
}
