using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Npgsql;

namespace Geo.Schema;

/// <summary>
/// The PostgreSQL roles the platform's services log in as, each with only what it needs (the operator tools keep the
/// administrator's role):
/// <list type="bullet">
/// <item><see cref="RegionNode"/> (geo-region): in its region's server, reads and writes the rows of every shard and
/// replica database (no DDL, no database of its own making, no other role's data) and owns its survivability journal
/// database; in the directory, reads what it routes by and writes only owner leases, subscriber placements and
/// idempotency keys.</item>
/// <item><see cref="Router"/> (geo-router): in the directory, reads and writes rows (placements, tenants, shards, NAS,
/// operators and their audit) but changes no schema.</item>
/// <item><see cref="Replicator"/> (geo-replicator): may open logical replication streams (<c>REPLICATION</c>: its slots)
/// and set <c>session_replication_role</c> (its applier); in its region's server, reads and writes the rows of every shard
/// and replica database (the applier's copy and <c>TRUNCATE</c>, markers on a source) but changes no schema and creates no
/// database: the publication comes with the tenant migrations, replica databases with the tenant's creation or rejoin;
/// in the directory, only reads the shards it stands by for.</item>
/// </list>
/// None is a superuser, nor may create databases or roles. Grants are applied again after every migration run (they
/// name tables), and by default privileges to the tables the administrator creates later, in every database created
/// from <c>template1</c>.
/// </summary>
public static class ServiceRoles
{
    /// <summary>The region node's role.</summary>
    public const string RegionNode = "geo_node";

    /// <summary>The global router's role.</summary>
    public const string Router = "geo_router";

    /// <summary>The replicator's role.</summary>
    public const string Replicator = "geo_replicator";

    /// <summary>Every service role.</summary>
    public static IReadOnlyList<string> All { get; } = [RegionNode, Router, Replicator];

    /// <summary>The roles that log in to the directory.</summary>
    public static IReadOnlyList<string> InDirectory { get; } = [RegionNode, Router, Replicator];

    /// <summary>The roles that log in to a region's server (provisioning there is the administrator's).</summary>
    public static IReadOnlyList<string> InRegionServers { get; } = [RegionNode, Replicator];

    /// <summary>The region node's survivability journal database (<c>RegionNode:JournalDatabase</c>'s default).</summary>
    public const string JournalDatabase = "geo_journal";

    /// <summary>Shard tables the region node reads but never writes.</summary>
    private static readonly string[] NodeReadsOnlyInShards = ["shard_fence", "replication_progress", "replication_markers", "geo_schema_migrations"];

    /// <summary>Directory tables the region node reads (not the operators' keys nor their audit).</summary>
    private static readonly string[] NodeReadsInDirectory =
        ["regions", "tenants", "shards", "nas_devices", "subscriber_placements", "idempotency_keys", "shard_owner_leases", "dr_events", "geo_schema_migrations"];

    /// <summary>Directory tables the replicator reads: what it follows its shards by (no placements, keys or operators).</summary>
    private static readonly string[] ReplicatorReadsInDirectory = ["regions", "tenants", "shards", "nas_devices", "shard_owner_leases", "dr_events"];

    /// <summary>
    /// Creates the role, or sets its password when it exists. The password reaches the server only as a SCRAM-SHA-256
    /// verifier, so that no statement, log line or error of the server holds it.
    /// </summary>
    private static async Task EnsureRoleAsync(NpgsqlConnection superuser, string role, string password, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(superuser);
        var verifier = ScramVerifier(password);
        var verb = await ExistsAsync(superuser, role, cancellationToken) ? "ALTER" : "CREATE";
        // Only the replicator streams (its slots); no role may create databases or roles, or bypass row security. Only a
        // superuser gives the REPLICATION attribute: a managed server's administrator (Amazon RDS) gives membership of its
        // rds_replication role instead.
        var viaRdsReplication = role == Replicator &&
            !await ScalarAsync<bool>(superuser, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user", cancellationToken);
        var replication = role != Replicator ? "NOREPLICATION" : viaRdsReplication ? "" : "REPLICATION";
        await ExecuteAsync(superuser,
            $"{verb} ROLE {Quote(role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE {replication} NOBYPASSRLS PASSWORD '{verifier}'", cancellationToken);
        if (viaRdsReplication)
        {
            if (!await ExistsAsync(superuser, "rds_replication", cancellationToken))
            {
                throw new InvalidOperationException(
                    $"{Replicator} needs the REPLICATION attribute, which only a superuser gives: grant the roles as a superuser");
            }

            await ExecuteAsync(superuser, $"GRANT rds_replication TO {Quote(role)}", cancellationToken);
        }
    }

    /// <summary>
    /// Gives every service role its place: creates the roles of <paramref name="passwords"/> (or sets their password) in
    /// the directory and in the regions' servers they log in to, then grants them what they need there.
    /// </summary>
    /// <param name="directory">A superuser connection string to the directory database.</param>
    /// <param name="regionServers">Each region's server: a superuser connection string to any of its databases.</param>
    /// <param name="passwords">The roles to create or give a password; any other role must exist already.</param>
    /// <param name="progress">Told what was granted where, as it is.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    /// <exception cref="InvalidOperationException">A role neither given a password nor existing (the message says what to do).</exception>
    public static async Task ApplyAsync(string directory, IReadOnlyDictionary<string, string> regionServers, IReadOnlyDictionary<string, string> passwords,
        Action<string>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(regionServers);
        ArgumentNullException.ThrowIfNull(passwords);
        var servers = regionServers.OrderBy(r => r.Key, StringComparer.Ordinal)
            .Select(r => (Name: $"region {r.Key}'s server", Connection: r.Value, Roles: InRegionServers))
            .Prepend((Name: "the directory", Connection: directory, Roles: InDirectory));
        foreach (var (name, connectionString, roles) in servers)
        {
            await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
            await connection.OpenAsync(cancellationToken);
            foreach (var role in roles)
            {
                if (passwords.TryGetValue(role, out var password))
                {
                    await EnsureRoleAsync(connection, role, password, cancellationToken);
                }
                else if (!await ExistsAsync(connection, role, cancellationToken))
                {
                    throw new InvalidOperationException($"role {role} does not exist in {name}: create it, or give its password");
                }
            }
        }

        await GrantDirectoryAsync(directory, cancellationToken);
        progress?.Invoke($"{string.Join(", ", InDirectory)} granted in the directory");
        // The directory may share a region's server: its database is never taken for a shard's.
        string[] notShards = [new NpgsqlConnectionStringBuilder(directory).Database ?? ""];
        foreach (var (region, server) in regionServers.OrderBy(r => r.Key, StringComparer.Ordinal))
        {
            await GrantRegionAsync(server, JournalDatabase, notShards, cancellationToken);
            progress?.Invoke($"{string.Join(", ", InRegionServers)} granted in region {region}'s server (journal database {JournalDatabase})");
        }
    }

    /// <summary>True when <paramref name="role"/> exists in the server of <paramref name="connection"/>.</summary>
    private static async Task<bool> ExistsAsync(NpgsqlConnection connection, string role, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_roles WHERE rolname = $1", connection);
        exists.Parameters.Add(new() { Value = role });
        return await exists.ExecuteScalarAsync(cancellationToken) is not null;
    }

    /// <summary>
    /// A region's server: the node's role reads and writes the rows of every shard and replica database there, now and
    /// later (default privileges in <c>template1</c>, which new databases copy), and owns <paramref name="journalDatabase"/>
    /// (created here when missing).
    /// </summary>
    /// <param name="maintenance">A superuser connection string to any database of the server.</param>
    /// <param name="journalDatabase">The node's journal database (<c>RegionNode:JournalDatabase</c>).</param>
    /// <param name="notShards">Databases of the server named like shards that are not (the directory, when it shares the server).</param>
    /// <param name="cancellationToken">Cancels the grants.</param>
    private static async Task GrantRegionAsync(string maintenance, string journalDatabase, IReadOnlyCollection<string>? notShards, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(journalDatabase);
        var server = new NpgsqlConnectionStringBuilder(maintenance) { Pooling = false, Database = "postgres" };
        var databases = new List<string>();
        await using (var connection = new NpgsqlConnection(server.ConnectionString))
        {
            await connection.OpenAsync(cancellationToken);
            // Shard and replica databases only (and template1, for those created later): never a directory or any other
            // database that shares the server.
            await using (var list = new NpgsqlCommand("SELECT datname FROM pg_database WHERE datallowconn ORDER BY datname", connection))
            await using (var reader = await list.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    var name = reader.GetString(0);
                    if (name == "template1" || name == journalDatabase || (ShardDatabase.IsShardName(name) && notShards?.Contains(name) != true))
                    {
                        databases.Add(name);
                    }
                }
            }

            // The applier replays rows as the source wrote them: without the ordinary triggers and foreign-key checks
            // (session_replication_role = replica), which PostgreSQL 15 lets the administrator grant to a role.
            if (await ScalarAsync<int>(connection, "SELECT current_setting('server_version_num')::int", cancellationToken) < 150000)
            {
                throw new InvalidOperationException(
                    $"{Replicator} needs PostgreSQL 15 or later (GRANT SET ON PARAMETER session_replication_role); this server is {await ScalarAsync<string>(connection, "SELECT version()", cancellationToken)}");
            }

            try
            {
                await ExecuteAsync(connection, $"GRANT SET ON PARAMETER session_replication_role TO {Quote(Replicator)}", cancellationToken);
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.InsufficientPrivilege)
            {
                throw new InvalidOperationException(
                    $"{Replicator} needs SET on session_replication_role and {connection.UserName} may not give it ({ex.MessageText}): grant the roles as a superuser, " +
                    "or have the server's provider grant it", ex);
            }
            if (!databases.Contains(journalDatabase, StringComparer.Ordinal))
            {
                await ExecuteAsync(connection, $"CREATE DATABASE {Quote(journalDatabase)} OWNER {Quote(RegionNode)}", cancellationToken);
            }
            else
            {
                await ExecuteAsync(connection, $"ALTER DATABASE {Quote(journalDatabase)} OWNER TO {Quote(RegionNode)}", cancellationToken);
            }
        }

        foreach (var database in databases)
        {
            // A replica's database is read-only by default (its guard); grants are the administrator's, not the data's.
            await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(server.ConnectionString)
            {
                Database = database,
                Options = "-c default_transaction_read_only=off",
            }.ConnectionString);
            await connection.OpenAsync(cancellationToken);
            if (database == journalDatabase)
            {
                // A journal created by an earlier node running as the administrator: its table goes to the node.
                await ExecuteAsync(connection, $"ALTER TABLE IF EXISTS survival_journal OWNER TO {Quote(RegionNode)}", cancellationToken);
                continue;
            }

            var node = Quote(RegionNode);
            var replicator = Quote(Replicator);
            // The replicator writes every table of a replica (its bookkeeping too) and empties them for a fresh copy; a
            // database changes from replica to owner and back without new grants, so it has the same rights in both.
            var grants = new StringBuilder($"""
                REVOKE CREATE ON SCHEMA public FROM PUBLIC;
                ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {node};
                ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {node};
                GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {node};
                GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {node};
                ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON TABLES TO {replicator};
                ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {replicator};
                GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA public TO {replicator};
                GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {replicator};
                """);
            // What the node only reads: the fence (locked FOR SHARE, which takes UPDATE on a column: the most harmless one),
            // replication's bookkeeping, the migrations' own table.
            foreach (var table in NodeReadsOnlyInShards)
            {
                if (await HasTableAsync(connection, table, cancellationToken))
                {
                    grants.Append(CultureInfo.InvariantCulture, $"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {table} FROM {node};");
                }
            }

            if (await HasTableAsync(connection, "geo_schema_migrations", cancellationToken))
            {
                grants.Append(CultureInfo.InvariantCulture, $"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON geo_schema_migrations FROM {replicator};");
            }

            if (await HasTableAsync(connection, "shard_fence", cancellationToken))
            {
                grants.Append(CultureInfo.InvariantCulture, $"GRANT UPDATE (updated_at) ON shard_fence TO {node};");
            }

            await ExecuteAsync(connection, grants.ToString(), cancellationToken);
        }
    }

    /// <summary>
    /// The directory (after its migrations): the node's role reads what it routes by and writes leases, placements and
    /// idempotency keys; the router's role reads and writes rows (not the migrations' own table). <paramref name="directory"/>
    /// is a superuser connection string to the directory database.
    /// </summary>
    private static async Task GrantDirectoryAsync(string directory, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(directory) { Pooling = false }.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        var node = Quote(RegionNode);
        var router = Quote(Router);
        var replicator = Quote(Replicator);
        await ExecuteAsync(connection, $"""
            REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {node}, {router}, {replicator};
            GRANT SELECT ON {string.Join(", ", ReplicatorReadsInDirectory)} TO {replicator};
            GRANT SELECT ON {string.Join(", ", NodeReadsInDirectory)} TO {node};
            GRANT INSERT ON subscriber_placements, idempotency_keys TO {node};
            GRANT INSERT, UPDATE ON shard_owner_leases TO {node};
            -- Lease renewals lock the shard rows they extend FOR SHARE, which takes UPDATE on a column: the most harmless one.
            GRANT UPDATE (updated_at) ON shards TO {node};
            GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {router};
            REVOKE INSERT, UPDATE, DELETE ON geo_schema_migrations FROM {router};
            REVOKE UPDATE, DELETE ON audit_log FROM {router};
            GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {router};
            """, cancellationToken);
    }

    /// <summary>
    /// A SCRAM-SHA-256 verifier for <paramref name="password"/> (RFC 5802/7677, PostgreSQL's stored form), which
    /// <c>CREATE/ALTER ROLE ... PASSWORD</c> takes as it is. Passwords here are ASCII, which SASLprep leaves unchanged.
    /// </summary>
    internal static string ScramVerifier(string password, byte[]? salt = null, int iterations = 4096)
    {
        ArgumentException.ThrowIfNullOrEmpty(password);
        if (password.Any(c => c is < '!' or > '~'))
        {
            throw new ArgumentException("a service password is printable ASCII without spaces", nameof(password));
        }

        salt ??= RandomNumberGenerator.GetBytes(16);
        var salted = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, 32);
        var clientKey = HMACSHA256.HashData(salted, "Client Key"u8);
        var storedKey = SHA256.HashData(clientKey);
        var serverKey = HMACSHA256.HashData(salted, "Server Key"u8);
        return $"SCRAM-SHA-256${iterations}:{Convert.ToBase64String(salt)}${Convert.ToBase64String(storedKey)}:{Convert.ToBase64String(serverKey)}";
    }

    private static async Task<bool> HasTableAsync(NpgsqlConnection connection, string table, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT to_regclass($1) IS NOT NULL", connection);
        command.Parameters.Add(new() { Value = $"public.{table}" });
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static string Quote(string identifier) => $"\"{identifier.Replace("\"", "\"\"", StringComparison.Ordinal)}\"";
}
