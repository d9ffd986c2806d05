using System.Text.RegularExpressions;

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

    [GeneratedRegex("^[a-z][a-z0-9_]{0,30}$", RegexOptions.CultureInvariant)]
    private static partial Regex TenantIdPattern();

    [GeneratedRegex("^geo_[a-z][a-z0-9_]{0,30}_[a-z][a-z0-9-]{0,30}$", RegexOptions.CultureInvariant)]
    private static partial Regex ShardNamePattern();

    [GeneratedRegex("^[a-z][a-z0-9-]{0,30}$", RegexOptions.CultureInvariant)]
    private static partial Regex RegionIdPattern();
}
