using Geo.Provisioning.NasConfig;
using Npgsql;

namespace Geo.Ctl.NasConfig;

/// <summary>Reads NAS and the RADIUS endpoints of their primary and backup regions from the directory database.</summary>
internal static class NasDirectoryReader
{
    /// <summary>The NAS (its secret left empty), or an error naming what is wrong.</summary>
    public static async Task<(NasClient? Nas, string? Error)> LoadAsync(string directory, string nasId, string? tenantId, CancellationToken cancellationToken)
    {
        var found = await ReadAsync(directory, "n.id = $1 AND ($2::text IS NULL OR n.tenant_id = $2)", [nasId, tenantId], cancellationToken);
        return found switch
        {
            [] => (null, tenantId is null ? $"no NAS '{nasId}' in the directory" : $"tenant '{tenantId}' has no NAS '{nasId}'"),
            [var only] => (only, null),
            _ => (null, $"NAS id '{nasId}' exists in tenants {string.Join(", ", found.Select(n => n.TenantId))}: name one with --tenant"),
        };
    }

    /// <summary>Every NAS whose primary is <paramref name="region"/> (secrets left empty), by tenant and id.</summary>
    public static Task<IReadOnlyList<NasClient>> LoadByPrimaryAsync(string directory, string region, CancellationToken cancellationToken) =>
        ReadAsync(directory, "n.primary_region = $1", [region], cancellationToken);

    private static async Task<IReadOnlyList<NasClient>> ReadAsync(string directory, string where, string?[] parameters, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(directory);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"""
            SELECT n.tenant_id, n.id, host(n.address),
                   p.id, p.radius_host, p.radius_auth_port, p.radius_acct_port,
                   b.id, b.radius_host, b.radius_auth_port, b.radius_acct_port
            FROM nas_devices n
            JOIN regions p ON p.id = n.primary_region
            LEFT JOIN regions b ON b.id = n.backup_region
            WHERE {where}
            ORDER BY n.tenant_id, n.id
            """, connection);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter<string?> { TypedValue = parameter, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        }

        var found = new List<NasClient>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var primary = new RadiusEndpoint(reader.GetString(3), reader.GetString(4), reader.GetInt32(5), reader.GetInt32(6));
            var backup = reader.IsDBNull(7) ? null : new RadiusEndpoint(reader.GetString(7), reader.GetString(8), reader.GetInt32(9), reader.GetInt32(10));
            found.Add(new NasClient(reader.GetString(0), reader.GetString(1), reader.GetString(2), primary, backup, ""));
        }

        return found;
    }
}
