using Geo.Directory;
using Geo.Directory.Nas;
using Geo.Directory.Shards;
using Geo.Directory.Tenants;
using Geo.Replication.PgOutput;
using Geo.Schema;
using Npgsql;

namespace Geo.Provisioning;

/// <summary>One shard as the operator sees it.</summary>
/// <param name="Shard">The directory's record (owner, standby, epoch, state).</param>
/// <param name="Subscribers">Subscribers in its database (null when it cannot be read).</param>
/// <param name="Slot">Its replication slot on the source (null without a standby).</param>
/// <param name="SlotActive">Whether a replicator holds the slot now.</param>
/// <param name="LagBytes">WAL bytes the standby has not confirmed yet.</param>
/// <param name="LagSeconds">Seconds since the last source commit the replica applied, while it is behind; 0 when caught up.</param>
/// <param name="Error">Why something could not be read.</param>
public sealed record ShardReport(Shard Shard, long? Subscribers, string? Slot, bool? SlotActive, long? LagBytes, double? LagSeconds, string? Error);

/// <summary>A tenant with its shards and NAS.</summary>
/// <param name="Tenant">The tenant.</param>
/// <param name="Shards">Its shards.</param>
/// <param name="Nas">Its NAS devices.</param>
public sealed record TenantReport(Tenant Tenant, IReadOnlyList<ShardReport> Shards, IReadOnlyList<NasDevice> Nas);

/// <summary>Reads what <c>tenant list</c> and <c>tenant show</c> print: the directory, plus each shard's databases.</summary>
public sealed class TenantReports(IDirectoryStore directory, PlatformDatabases databases, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>
    /// Every tenant (or one), with its shards' replication state and, unless <paramref name="countSubscribers"/> is false
    /// (a count scans a million rows: a frequent sampler skips it), their subscribers.
    /// </summary>
    public async Task<IReadOnlyList<TenantReport>> ReadAsync(string? tenantId, CancellationToken cancellationToken, bool countSubscribers = true)
    {
        ArgumentNullException.ThrowIfNull(directory);
        var data = await directory.LoadAsync(cancellationToken);
        if (tenantId is not null && !data.Tenants.Any(t => t.Id == tenantId))
        {
            throw new ProvisioningException($"no tenant {tenantId} (tenants: {string.Join(", ", data.Tenants.Select(t => t.Id))})");
        }

        var reports = new List<TenantReport>();
        foreach (var tenant in data.Tenants.Where(t => tenantId is null || t.Id == tenantId))
        {
            var shards = new List<ShardReport>();
            foreach (var shard in data.Shards.Where(s => s.Key.TenantId == tenant.Id))
            {
                shards.Add(await ReadShardAsync(shard, countSubscribers, cancellationToken));
            }

            reports.Add(new TenantReport(tenant, shards, data.NasDevices.Where(n => n.TenantId == tenant.Id).ToList()));
        }

        return reports;
    }

    private async Task<ShardReport> ReadShardAsync(Shard shard, bool countSubscribers, CancellationToken cancellationToken)
    {
        long? subscribers = null;
        string? slot = shard.StandbyRegion is { } standby ? ReplicationSlots.DefaultSlotName(shard.DatabaseName, standby) : null;
        bool? active = null;
        long? lagBytes = null;
        double? lagSeconds = null;
        try
        {
            await using var source = new NpgsqlConnection(databases.Database(shard.OwnerRegion, shard.DatabaseName));
            await source.OpenAsync(cancellationToken);
            if (countSubscribers)
            {
                await using var count = new NpgsqlCommand("SELECT count(*) FROM subscribers", source);
                subscribers = (long)(await count.ExecuteScalarAsync(cancellationToken))!;
            }

            if (slot is not null)
            {
                await using var lag = new NpgsqlCommand(
                    "SELECT active, pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint FROM pg_replication_slots WHERE slot_name = $1", source);
                lag.Parameters.Add(new() { Value = slot });
                await using var reader = await lag.ExecuteReaderAsync(cancellationToken);
                if (await reader.ReadAsync(cancellationToken))
                {
                    active = reader.GetBoolean(0);
                    lagBytes = reader.IsDBNull(1) ? null : reader.GetInt64(1);
                }
            }

            if (slot is not null && shard.StandbyRegion is { } replicaRegion)
            {
                await using var replica = new NpgsqlConnection(databases.Database(replicaRegion, shard.DatabaseName));
                await replica.OpenAsync(cancellationToken);
                await using var applied = new NpgsqlCommand("SELECT source_commit_at FROM replication_progress WHERE source = $1", replica);
                applied.Parameters.Add(new() { Value = $"pgoutput:{slot}" });
                var at = await applied.ExecuteScalarAsync(cancellationToken) as DateTime?;
                // WAL of other databases on the same server also moves the source position: a few kilobytes behind is idle, not lag.
                lagSeconds = lagBytes is null ? null : lagBytes <= 64 * 1024 ? 0 : at is { } last ? Math.Max(0, (_time.GetUtcNow() - new DateTimeOffset(last, TimeSpan.Zero)).TotalSeconds) : null;
            }

            return new ShardReport(shard, subscribers, slot, active, lagBytes, lagSeconds, null);
        }
        catch (Exception ex) when (ex is NpgsqlException or KeyNotFoundException)
        {
            return new ShardReport(shard, subscribers, slot, active, lagBytes, lagSeconds, ex.Message);
        }
    }
}
