using System.CommandLine;
using System.CommandLine.Invocation;
using Geo.Schema;
using Geo.Schema.Migrations;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Geo.Migrate;

/// <summary>
/// The geo-migrate command line. One database: <c>geo-migrate directory|tenant --connection CONN</c>. Every shard:
/// <c>geo-migrate --all-shards --directory CONN --server REGION=CONN ...</c>. Exit codes: 0 done, 1 a database
/// failed, 2 nothing was attempted (bad arguments, directory unreadable).
/// </summary>
internal static class MigrateCommand
{
    public const string ConnectionVariable = "GEO_MIGRATE_CONNECTION";
    public const string DirectoryVariable = "GEO_MIGRATE_DIRECTORY";
    public const string ServersFileVariable = "GEO_MIGRATE_SERVERS_FILE";

    /// <summary>Parses and runs; <paramref name="environment"/> looks up environment variables (tests pass their own).</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, Func<string, string?> environment, CancellationToken cancellationToken = default)
    {
        var parse = Create(output, error, environment).Parse(args);
        if (parse.Action is ParseErrorAction)
        {
            foreach (var parseError in parse.Errors)
            {
                await error.WriteLineAsync($"geo-migrate: {parseError.Message}");
            }

            await error.WriteLineAsync("Run 'geo-migrate --help' for usage.");
            return 2;
        }

        return await parse.InvokeAsync(new InvocationConfiguration { Output = output, Error = error }, cancellationToken);
    }

    private static RootCommand Create(TextWriter output, TextWriter error, Func<string, string?> environment)
    {
        var set = new Argument<string>("set")
        {
            Description = "Which migrations for the one database of --connection: 'directory' or 'tenant' (not with --all-shards)",
            Arity = ArgumentArity.ZeroOrOne,
        };
        set.AcceptOnlyFromAmong("directory", "tenant");
        var connection = new Option<string>("--connection")
        {
            Description = $"Npgsql connection string of the one database to migrate (default: ${ConnectionVariable})",
            DefaultValueFactory = _ => environment(ConnectionVariable) ?? "",
        };
        var allShards = new Option<bool>("--all-shards")
        {
            Description = "Apply the tenant migrations to every shard the directory lists: each replica (standby region) before its source (owner region)",
        };
        var directory = new Option<string>("--directory")
        {
            Description = $"With --all-shards: Npgsql connection string of the directory database (default: ${DirectoryVariable})",
            DefaultValueFactory = _ => environment(DirectoryVariable) ?? "",
        };
        var servers = new Option<string[]>("--server")
        {
            Description = "With --all-shards, repeated, one per region: <region>=<connection string of that region's PostgreSQL server> " +
                "(the database part is replaced by each shard's), e.g. --server \"a=Host=pg-a;Username=geo_admin\"",
            HelpName = "region=conn",
        };
        var serversFile = new Option<string>("--servers-file")
        {
            Description = $"With --all-shards: a file of <region>=<connection string> lines ('#' comments); adds to --server (default: ${ServersFileVariable})",
            DefaultValueFactory = _ => environment(ServersFileVariable) ?? "",
        };

        var grantRoles = new Option<bool>("--grant-roles")
        {
            Description = $"With --all-shards, after the migrations: grant the services' roles ({ServiceRoles.RegionNode}, {ServiceRoles.Router}) what they " +
                "need in the directory and in every region's server (docs/operations.md). The roles must exist, or be created with --role-password-file",
        };
        var rolePasswordFiles = new Option<string[]>("--role-password-file")
        {
            Description = $"With --grant-roles, repeated: <role>=<file holding its password>: creates the role, or sets its password (sent as a SCRAM verifier only)",
            HelpName = "role=file",
        };

        var root = new RootCommand(
            "geo-migrate: apply pending schema migrations, in order, each in its own transaction. " +
            "Exit code 0: done; 1: a database failed; 2: nothing attempted (bad arguments, directory unreadable).")
        {
            set, connection, allShards, directory, servers, serversFile, grantRoles, rolePasswordFiles,
        };
        root.Validators.Add(result =>
        {
            var setName = result.GetValue(set);
            var given = setName is not null;
            if (result.GetValue(allShards))
            {
                if (given)
                {
                    result.AddError("--all-shards always applies the tenant set to every shard database: give no set ('directory' or 'tenant') with it");
                }

                if (result.GetResult(connection) is { Implicit: false })
                {
                    result.AddError("--all-shards finds the databases through --directory and --server: give no --connection with it");
                }
            }
            else
            {
                if (!given)
                {
                    result.AddError("give a migration set ('directory' or 'tenant') and --connection, or --all-shards");
                }
                else if (setName is not ("directory" or "tenant"))
                {
                    // AcceptOnlyFromAmong (kept for help and completion) does not check an optional argument.
                    result.AddError($"unknown migration set '{setName}': give 'directory' or 'tenant'");
                }

                if (result.GetResult(directory) is { Implicit: false } || result.GetResult(servers) is { Implicit: false } || result.GetResult(serversFile) is { Implicit: false } ||
                    result.GetValue(grantRoles))
                {
                    result.AddError("--directory, --server, --servers-file and --grant-roles go with --all-shards");
                }
            }

            if (result.GetValue(rolePasswordFiles) is { Length: > 0 } files)
            {
                if (!result.GetValue(grantRoles))
                {
                    result.AddError("--role-password-file goes with --grant-roles");
                }

                foreach (var file in files)
                {
                    var role = file.Split('=', 2)[0];
                    if (!file.Contains('=', StringComparison.Ordinal) || !ServiceRoles.All.Contains(role, StringComparer.Ordinal))
                    {
                        result.AddError($"--role-password-file '{role}': expected <role>=<file>, the role one of {string.Join(", ", ServiceRoles.All)}");
                    }
                }
            }
        });

        root.SetAction(async (result, cancellationToken) =>
        {
            try
            {
                return result.GetValue(allShards)
                    ? await AllShardsAsync(result.GetValue(directory)!, result.GetValue(servers) ?? [], result.GetValue(serversFile)!,
                        result.GetValue(grantRoles) ? (result.GetValue(rolePasswordFiles) ?? []).Select(f => f.Split('=', 2)).ToDictionary(f => f[0], f => f[1], StringComparer.Ordinal) : null,
                        output, error, cancellationToken)
                    : await OneDatabaseAsync(result.GetValue(set)!, result.GetValue(connection)!, output, error, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                await error.WriteLineAsync("geo-migrate: cancelled (the migration in progress was rolled back)");
                return 130;
            }
        });
        return root;
    }

    private static async Task<int> OneDatabaseAsync(string setName, string connectionString, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            await error.WriteLineAsync($"geo-migrate: give --connection or set {ConnectionVariable}");
            return 2;
        }

        using var logging = LoggerFactory.Create(b => b.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; }));
        try
        {
            var migrations = MigrationSet.Named(setName);
            var report = await new MigrationRunner(logging.CreateLogger<MigrationRunner>()).ApplyAsync(connectionString, migrations, cancellationToken);
            await output.WriteLineAsync($"{report.Database}: {report.Applied.Count} applied, {report.AlreadyApplied} already applied; {migrations.Name} schema at version {migrations.LatestVersion}");
            return 0;
        }
        catch (Exception ex) when (ex is MigrationException or NpgsqlException or ArgumentException)
        {
            await error.WriteLineAsync($"geo-migrate: {ex.Message}");
            return 1;
        }
    }

    private static async Task<int> AllShardsAsync(string directoryConnection, string[] serverOptions, string serversFile,
        IReadOnlyDictionary<string, string>? rolePasswordFiles, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(directoryConnection))
        {
            await error.WriteLineAsync($"geo-migrate: --all-shards needs the directory database: give --directory or set {DirectoryVariable}");
            return 2;
        }

        PlatformDatabases databases;
        try
        {
            try
            {
                _ = new NpgsqlConnectionStringBuilder(directoryConnection);
            }
            catch (ArgumentException ex)
            {
                throw new FormatException($"--directory: {ex.Message}", ex);
            }

            var servers = new Dictionary<string, string>(StringComparer.Ordinal);
            // A --server value is not echoed whole in errors: its connection string may hold a password.
            ServerList.Add(servers, serverOptions.Select(s => (s, s.Contains('=', StringComparison.Ordinal) ? $"--server {s.Split('=', 2)[0]}=..." : $"--server '{s}'")));
            if (!string.IsNullOrWhiteSpace(serversFile))
            {
                ServerList.Add(servers, ServerList.ReadFile(serversFile));
            }

            if (servers.Count == 0)
            {
                await error.WriteLineAsync($"geo-migrate: --all-shards needs each region's server: give --server <region>=<conn> per region, or --servers-file (or set {ServersFileVariable})");
                return 2;
            }

            databases = new PlatformDatabases(directoryConnection, servers);
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or IOException or UnauthorizedAccessException)
        {
            await error.WriteLineAsync($"geo-migrate: {ex.Message}");
            return 2;
        }

        var migrator = new ShardMigrator(databases);
        ShardDirectory shardDirectory;
        try
        {
            shardDirectory = await migrator.ReadDirectoryAsync(cancellationToken);
        }
        catch (MigrationException ex)
        {
            await error.WriteLineAsync($"geo-migrate: {ex.Message}");
            return 2;
        }

        var latest = MigrationSet.Directory.LatestVersion;
        await output.WriteLineAsync(
            $"directory {shardDirectory.Database}: schema version {shardDirectory.SchemaVersion} (this build: {latest})" +
            (shardDirectory.SchemaVersion < latest ? ", directory migrations pending (geo-migrate directory)" : "") +
            $"; {shardDirectory.Shards.Count} shards, tenant schema of this build at version {MigrationSet.Tenant.LatestVersion}");

        var format = new LineFormat(shardDirectory.Shards);
        var summary = await migrator.MigrateAsync(shardDirectory.Shards, result =>
        {
            // Written as each database completes; the callback runs between databases, so a synchronous write is fine.
            output.WriteLine(format.Line(result));
        }, cancellationToken);

        await output.WriteLineAsync(
            $"summary: {summary.Results.Count} databases: {summary.Succeeded} ok, {summary.Failed} failed, {summary.Skipped} skipped");
        if (summary.Failed > 0)
        {
            return 1;
        }

        return rolePasswordFiles is null ? 0 : await GrantRolesAsync(databases, rolePasswordFiles, output, error, cancellationToken);
    }

    /// <summary>Grants the services' roles (<see cref="ServiceRoles.ApplyAsync"/>), creating those given a password file.</summary>
    private static async Task<int> GrantRolesAsync(PlatformDatabases databases, IReadOnlyDictionary<string, string> passwordFiles,
        TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        try
        {
            var passwords = passwordFiles.ToDictionary(p => p.Key, p => File.ReadAllText(p.Value).Trim(), StringComparer.Ordinal);
            await ServiceRoles.ApplyAsync(databases.DirectoryConnectionString, databases.Regions.ToDictionary(r => r, databases.Maintenance, StringComparer.Ordinal),
                passwords, line => output.WriteLine($"roles: {line}"), cancellationToken);
            return 0;
        }
        catch (InvalidOperationException ex)
        {
            await error.WriteLineAsync($"geo-migrate: {ex.Message} (--role-password-file <role>=<file>)");
            return 1;
        }
        catch (Exception ex) when (ex is NpgsqlException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            await error.WriteLineAsync($"geo-migrate: granting the service roles: {ex.Message}");
            return 1;
        }
    }

    /// <summary>Aligned columns: database, role and region, outcome.</summary>
    private sealed class LineFormat(IReadOnlyList<ShardLocation> shards)
    {
        private readonly int _databaseWidth = shards.Select(s => s.DatabaseName.Length).DefaultIfEmpty(0).Max();
        private readonly int _whereWidth = shards.Select(s => Math.Max(Where(ShardDatabaseRole.Replica, s.StandbyRegion).Length, Where(ShardDatabaseRole.Source, s.OwnerRegion).Length))
            .DefaultIfEmpty(0).Max();

        public string Line(ShardMigrationResult result) =>
            $"{result.Database.PadRight(_databaseWidth)}  {Where(result.Role, result.Region).PadRight(_whereWidth)}  {Outcome(result)}";

        private static string Where(ShardDatabaseRole role, string? region) =>
            (role == ShardDatabaseRole.Replica ? "replica" : "source") + (region is null ? "" : $" in {region}");

        private static string Outcome(ShardMigrationResult result) => result.Outcome switch
        {
            ShardMigrationOutcome.Migrated => (result.Reason is null ? "" : $"{result.Reason}; ") + $"applied {string.Join(", ", result.Applied)}",
            ShardMigrationOutcome.UpToDate => "up to date",
            ShardMigrationOutcome.Skipped => $"skipped: {result.Reason}",
            _ => $"FAILED: {result.Reason}",
        };
    }
}
