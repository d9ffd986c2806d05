using Npgsql;

namespace Geo.Schema;

/// <summary>The fence row of a shard database (migration 0002): the epoch every writer checks.</summary>
public static class ShardFence
{
    /// <summary>Writes the fence of a new shard at epoch 1, owned by its home region, unless the database has one already.</summary>
    public static async Task EnsureAsync(string shardConnectionString, string tenantId, string homeRegion, CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(shardConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var insert = new NpgsqlCommand(
            "INSERT INTO shard_fence (tenant_id, home_region, owner_region, epoch) VALUES ($1, $2, $2, 1) ON CONFLICT (singleton) DO NOTHING", connection);
        insert.Parameters.Add(new() { Value = tenantId });
        insert.Parameters.Add(new() { Value = homeRegion });
        await insert.ExecuteNonQueryAsync(cancellationToken);
    }
}
