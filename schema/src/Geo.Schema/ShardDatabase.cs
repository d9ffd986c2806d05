using System.Text.RegularExpressions;
using Npgsql;

namespace Geo.Schema;

/// <summary>Names of shard databases: <c>geo_&lt;tenant&gt;_&lt;region&gt;</c>, the same in the home and the standby region.</summary>
public static partial class ShardDatabase
{
    /// <summary>The database name of a tenant's shard homed in a region.</summary>
    public static string Name(string tenantId, string homeRegion)
    {
        if (!TenantIdPattern().IsMatch(tenantId))
        {
            throw new ArgumentException($"tenant id '{tenantId}' must be lower-case letters, digits and '_', starting with a letter, at most 31 characters", nameof(tenantId));
        }

        if (!RegionIdPattern().IsMatch(homeRegion))
        {
            throw new ArgumentException($"region id '{homeRegion}' must be lower-case letters, digits and '-', starting with a letter, at most 31 characters", nameof(homeRegion));
        }

        return $"geo_{tenantId}_{homeRegion}";
    }

    /// <summary>True when <paramref name="databaseName"/> has the form of a shard database's name (<c>geo_&lt;tenant&gt;_&lt;region&gt;</c>).</summary>
    public static bool IsShardName(string databaseName) => ShardNamePattern().IsMatch(databaseName);

    /// <summary>A database name quoted as an SQL identifier (region ids may hold '-').</summary>
    public static string Quote(string databaseName) => "\"" + databaseName.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// <summary>Whether the server of <paramref name="maintenance"/> has a database named <paramref name="database"/>.</summary>
    public static async Task<bool> ExistsAsync(NpgsqlConnection maintenance, string database, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(maintenance);
        await using var exists = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", maintenance);
        exists.Parameters.Add(new() { Value = database });
        return (bool)(await exists.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>Creates <paramref name="database"/> on the server of <paramref name="maintenance"/> unless it exists; true when this call created it.</summary>
    public static async Task<bool> CreateIfMissingAsync(NpgsqlConnection maintenance, string database, CancellationToken cancellationToken = default)
    {
        if (await ExistsAsync(maintenance, database, cancellationToken))
        {
            return false;
        }

        try
        {
            await using var create = new NpgsqlCommand($"CREATE DATABASE {Quote(database)}", maintenance);
            await create.ExecuteNonQueryAsync(cancellationToken);
            return true;
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.DuplicateDatabase)
        {
            // Created meanwhile by someone else.
            return false;
        }
    }

    [GeneratedRegex("^[a-z][a-z0-9_]{0,30}$", RegexOptions.CultureInvariant)]
    private static partial Regex TenantIdPattern();

    [GeneratedRegex("^geo_[a-z][a-z0-9_]{0,30}_[a-z][a-z0-9-]{0,30}$", RegexOptions.CultureInvariant)]
    private static partial Regex ShardNamePattern();

    [GeneratedRegex("^[a-z][a-z0-9-]{0,30}$", RegexOptions.CultureInvariant)]
    private static partial Regex RegionIdPattern();
}
