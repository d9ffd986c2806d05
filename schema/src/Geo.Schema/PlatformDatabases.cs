using System.Collections.Frozen;
using Npgsql;

namespace Geo.Schema;

/// <summary>
/// Where the platform's databases are: the directory database, and per region the PostgreSQL server that holds
/// that region's shard and replica databases (a connection string without a database, with a role allowed to
/// create and drop databases). The operator tools (geoctl, geo-migrate, the router's admin API) work through it.
/// </summary>
public sealed class PlatformDatabases
{
    private readonly FrozenDictionary<string, string> _servers;

    /// <summary>Creates the map; every region id must be a valid region id and every server string must parse.</summary>
    public PlatformDatabases(string directoryConnectionString, IReadOnlyDictionary<string, string> servers)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directoryConnectionString);
        ArgumentNullException.ThrowIfNull(servers);
        foreach (var (region, server) in servers)
        {
            _ = ShardDatabase.Name("probe", region);
            _ = new NpgsqlConnectionStringBuilder(server);
        }

        DirectoryConnectionString = directoryConnectionString;
        _servers = servers.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>The directory database.</summary>
    public string DirectoryConnectionString { get; }

    /// <summary>The regions whose servers are known.</summary>
    public IReadOnlyCollection<string> Regions => _servers.Keys;

    /// <summary>True when the server of <paramref name="region"/> is known.</summary>
    public bool HasRegion(string region) => _servers.ContainsKey(region);

    /// <summary>A connection string to <paramref name="database"/> on the server of <paramref name="region"/>.</summary>
    public string Database(string region, string database)
    {
        if (!_servers.TryGetValue(region, out var server))
        {
            throw new KeyNotFoundException($"no PostgreSQL server is configured for region '{region}' (known: {string.Join(", ", _servers.Keys.Order(StringComparer.Ordinal))})");
        }

        return new NpgsqlConnectionStringBuilder(server) { Database = database }.ConnectionString;
    }

    /// <summary>The maintenance database (<c>postgres</c>) of a region's server: where databases are created and dropped.</summary>
    public string Maintenance(string region) => Database(region, "postgres");

    /// <summary>
    /// A connection string whose sessions may write to a read-only replica database (its applier, migrations, the
    /// guard itself): a replica is read-only through <c>default_transaction_read_only</c>, which this turns off.
    /// </summary>
    public static string WritableReplica(string replicaConnectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(replicaConnectionString);
        builder.Options = $"{builder.Options} -c default_transaction_read_only=off".Trim();
        return builder.ConnectionString;
    }

    /// <summary>
    /// Opens a connection of its own, not pooled (disposed if the open fails): what an operator tool uses on a database it
    /// may rename, freeze, drop or hand over, so that it leaves no idle session there.
    /// </summary>
    public static async Task<NpgsqlConnection> OpenUnpooledAsync(string connectionString, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }
}
