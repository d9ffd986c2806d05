using Geo.Schema;
using Npgsql;

namespace Geo.Provisioning;

/// <summary>
/// One lifecycle command per tenant at a time: a session advisory lock on every region's server, taken in region order
/// (a crashed command's locks end with its sessions). A second command is refused rather than racing the first.
/// </summary>
internal sealed class TenantLock : IAsyncDisposable
{
    private readonly List<NpgsqlConnection> _held;

    private TenantLock(List<NpgsqlConnection> held) => _held = held;

    public static async Task<TenantLock> AcquireAsync(PlatformDatabases databases, string tenantId, CancellationToken cancellationToken)
    {
        var held = new List<NpgsqlConnection>();
        try
        {
            foreach (var region in databases.Regions.Order(StringComparer.Ordinal))
            {
                var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(databases.Maintenance(region)) { Pooling = false }.ConnectionString);
                held.Add(connection);
                await connection.OpenAsync(cancellationToken);
                await using var take = new NpgsqlCommand("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", connection);
                take.Parameters.Add(new() { Value = $"geo-lifecycle:{tenantId}" });
                if (!(bool)(await take.ExecuteScalarAsync(cancellationToken))!)
                {
                    throw new ProvisioningException($"another lifecycle command for tenant {tenantId} is running (lock held in region {region}); wait for it, then run this one again");
                }
            }

            return new TenantLock(held);
        }
        catch
        {
            await ReleaseAsync(held);
            throw;
        }
    }

    public ValueTask DisposeAsync() => new(ReleaseAsync(_held));

    private static async Task ReleaseAsync(List<NpgsqlConnection> held)
    {
        // Closing the (unpooled) session releases its advisory locks.
        foreach (var connection in held)
        {
            await connection.DisposeAsync();
        }
    }
}
