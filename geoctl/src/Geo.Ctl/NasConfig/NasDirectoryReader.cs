using Npgsql;

namespace Geo.Ctl.NasConfig;

/// <summary>Reads a NAS and the RADIUS endpoints of its primary and backup regions from the directory database.</summary>
internal static class NasDirectoryReader
{
    /// <summary>The NAS (its secret left empty), or an error naming what is wrong.</summary>
    public static async Task<(NasClient? Nas, string? Error)> LoadAsync(string directory, string nasId, string? tenantId, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(directory);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("""
            SELECT n.tenant_id, n.id, host(n.address),
                   p.id, p.radius_host, p.radius_auth_port, p.radius_acct_port,
                   b.id, b.radius_host, b.radius_auth_port, b.radius_acct_port
            FROM nas_devices n
            JOIN regions p ON p.id = n.primary_region
            LEFT JOIN regions b ON b.id = n.backup_region
            WHERE n.id = $1 AND ($2::text IS NULL OR n.tenant_id = $2)
            ORDER BY n.tenant_id
            """, connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = nasId });
        command.Parameters.Add(new NpgsqlParameter<string?> { TypedValue = tenantId, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        var found = new List<NasClient>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var primary = new RadiusEndpoint(reader.GetString(3), reader.GetString(4), reader.GetInt32(5), reader.GetInt32(6));
                var backup = reader.IsDBNull(7) ? null : new RadiusEndpoint(reader.GetString(7), reader.GetString(8), reader.GetInt32(9), reader.GetInt32(10));
                found.Add(new NasClient(reader.GetString(0), reader.GetString(1), reader.GetString(2), primary, backup, ""));
            }
        }

        return found switch
        {
            [] => (null, tenantId is null ? $"no NAS '{nasId}' in the directory" : $"tenant '{tenantId}' has no NAS '{nasId}'"),
            [var only] => (only, null),
            _ => (null, $"NAS id '{nasId}' exists in tenants {string.Join(", ", found.Select(n => n.TenantId))}: name one with --tenant"),
        };
    }
}
