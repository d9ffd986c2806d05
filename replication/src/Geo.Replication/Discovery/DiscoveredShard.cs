using Geo.Directory.Shards;
using Geo.Replication.Hosting;
using Geo.Schema;

namespace Geo.Replication.Discovery;

/// <summary>A row of the directory's <c>shards</c> table whose standby is this replicator's region.</summary>
internal sealed record StandbyShard(string TenantId, string HomeRegion, string OwnerRegion, string DatabaseName, string State)
{
    /// <summary>The shard's name, <c>tenant@home</c>, as static shards, metrics and logs name it.</summary>
    public string Name => $"{TenantId}@{HomeRegion}";

    /// <summary>
    /// A provisioning shard's replica is being seeded and an active one's kept current, as is a switching one's (a planned
    /// switchover waits for its standby to apply the owner's last commits, then stops the applier itself); promoting,
    /// fenced and retiring shards are in the hands of an operator tool, which needs the stream (and its slot) released.
    /// </summary>
    public bool IsReplicated => State is "provisioning" or "active" or "switching";
}

/// <summary>A stream the directory asks for: its options, or why it cannot run (<see cref="Error"/>).</summary>
internal sealed record DiscoveredShard(string Name, string OwnerRegion, string DatabaseName, ShardReplicationOptions? Options, string? Error)
{
    /// <summary>True when <paramref name="other"/> is the same stream (same source and replica), so a running one is kept.</summary>
    public bool SameStream(DiscoveredShard other) =>
        string.Equals(OwnerRegion, other.OwnerRegion, StringComparison.Ordinal) && string.Equals(DatabaseName, other.DatabaseName, StringComparison.Ordinal);
}

/// <summary>Turns the directory's rows into the streams this region should run.</summary>
internal static class DiscoveryPlan
{
    /// <summary>The shards of a directory snapshot whose standby is <paramref name="region"/>.</summary>
    public static List<StandbyShard> StandbyShards(IEnumerable<Shard> shards, string region) =>
    [
        .. shards
            .Where(s => string.Equals(s.StandbyRegion, region, StringComparison.Ordinal))
            .Select(s => new StandbyShard(s.Key.TenantId, s.Key.HomeRegion, s.OwnerRegion, s.DatabaseName, ShardStates.ToText(s.State))),
    ];

    /// <summary>One stream per replicated row: owner region's server → this region's server, same database name.</summary>
    public static List<DiscoveredShard> Desired(IEnumerable<StandbyShard> rows, string region, PlatformDatabases servers)
    {
        var desired = new List<DiscoveredShard>();
        foreach (var row in rows)
        {
            if (!row.IsReplicated)
            {
                continue;
            }

            string? error = null;
            if (string.IsNullOrWhiteSpace(row.DatabaseName))
            {
                error = "the directory names no database for this shard";
            }
            else if (!servers.HasRegion(row.OwnerRegion))
            {
                error = $"no PostgreSQL server configured for region {row.OwnerRegion} (Replication:Directory:Servers:{row.OwnerRegion})";
            }

            var options = error is not null ? null : new ShardReplicationOptions
            {
                Name = row.Name,
                Source = ReplicationSourceKind.PgOutput,
                SourceConnectionString = servers.Database(row.OwnerRegion, row.DatabaseName),
                ReplicaConnectionString = servers.Database(region, row.DatabaseName),
                PrepareReplica = true,
                ApplyTenantMigrations = true,
            };
            desired.Add(new DiscoveredShard(row.Name, row.OwnerRegion, row.DatabaseName, options, error));
        }

        return desired;
    }
}
