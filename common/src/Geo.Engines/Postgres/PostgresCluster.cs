using System.Globalization;
using System.Text;

namespace Geo.Engines.Postgres;

/// <summary>
/// A private PostgreSQL cluster on a loopback port, in a folder of its own, with logical decoding enabled.
/// The server runs detached (pg_ctl), so it outlives the process that started it unless a
/// <see cref="Reaper"/> is attached; settings live in the folder, so a stopped cluster reopens as it was.
/// </summary>
public sealed class PostgresCluster
{
    /// <summary>How long a start may take (pg_ctl's wait), crash recovery included.</summary>
    private const string StartTimeoutSeconds = "600";

    private const string ConfigFileName = "geo.conf";

    private PostgresCluster(string directory, int port)
    {
        Directory = directory;
        Port = port;
    }

    /// <summary>The cluster's folder.</summary>
    public string Directory { get; }

    /// <summary>The loopback TCP port it listens on.</summary>
    public int Port { get; private set; }

    /// <summary>The data directory (PGDATA).</summary>
    public string DataDirectory => Path.Combine(Directory, "data");

    /// <summary>The server log.</summary>
    public string LogFile => Path.Combine(Directory, "postgres.log");

    /// <summary>The postmaster's pid, while it runs (never a pid its file names that a later process reused).</summary>
    public int? ServerPid => Processes.LivePidFromFile(Path.Combine(DataDirectory, "postmaster.pid"));

    /// <summary>True when the postmaster is alive.</summary>
    public bool IsRunning => ServerPid is not null;

    /// <summary>
    /// The pgpass file with the superuser's password (owner-only), when the cluster requires one; it exists only then.
    /// libpq tools take it as <c>PGPASSFILE</c>, Npgsql as <c>Passfile</c>.
    /// </summary>
    public string PasswordFile => Path.Combine(Directory, "superuser.pgpass");

    /// <summary>True when connections need the superuser's password (<see cref="PostgresClusterOptions.RequirePassword"/>).</summary>
    public bool RequiresPassword => File.Exists(PasswordFile);

    /// <summary>An Npgsql connection string for a database of this cluster, as the superuser (naming the password file, never the password).</summary>
    public string ConnectionString(string database = "postgres") =>
        $"Host=127.0.0.1;Port={Port.ToString(CultureInfo.InvariantCulture)};Username=postgres;Database={database};Pooling=true;Include Error Detail=true" +
        (RequiresPassword ? $";Passfile={PasswordFile}" : "");

    /// <summary>A libpq connection string (for pg_dump, psql) for a database of this cluster, as the superuser.</summary>
    public string LibpqConnectionString(string database = "postgres") =>
        $"host=127.0.0.1 port={Port.ToString(CultureInfo.InvariantCulture)} user=postgres dbname={database}" + (RequiresPassword ? $" passfile={PasswordFile}" : "");

    /// <summary>Writes a database to <paramref name="file"/> with pg_dump (custom format: restore with pg_restore).</summary>
    public Task<string> DumpAsync(string database, string file, CancellationToken cancellationToken = default) =>
        ProcessRunner.RunCheckedAsync(PostgresTools.ClientTool("pg_dump"), ["-d", LibpqConnectionString(database), "-Fc", "-f", file], cancellationToken);

    /// <summary>
    /// Creates the cluster when its folder holds none, then starts it with the settings of <paramref name="options"/> (a
    /// running cluster is left as it is).
    /// With <see cref="PostgresClusterOptions.Port"/> 0 a free port is chosen, and another one when that
    /// port was taken in the meantime.
    /// </summary>
    public static async Task<PostgresCluster> StartAsync(PostgresClusterOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var directory = Path.GetFullPath(options.Directory);
        var existingPort = ReadPort(directory);
        var cluster = new PostgresCluster(directory, existingPort ?? options.Port);

        if (existingPort is null)
        {
            await cluster.InitializeAsync(options, cancellationToken);
        }

        if (cluster.IsRunning)
        {
            return cluster;
        }

        if (existingPort is not null)
        {
            // Settings given now (memory sized to the data, say) apply from this start on; the port stays.
            await cluster.WriteConfigAsync(options, cancellationToken);
        }

        for (var attempt = 1; ; attempt++)
        {
            // pg_ctl waits while the server lives and returns at once when it dies: the long bound is for crash recovery
            // after a server was killed, which replays the WAL since its last checkpoint first (a minute and more under a
            // heavy write load: 59 s measured at a million subscribers per shard, 2,000 accounting requests/s).
            var result = await PostgresTools.RunAsync("pg_ctl", ["-D", cluster.DataDirectory, "-l", cluster.LogFile, "-w", "-t", StartTimeoutSeconds, "start"], cancellationToken);
            if (result.Succeeded)
            {
                return cluster;
            }

            var log = TailOf(cluster.LogFile);
            var portClash = log.Contains("could not bind", StringComparison.Ordinal) || log.Contains("Address already in use", StringComparison.Ordinal);
            if (portClash && options.Port == 0 && existingPort is null && attempt < 5)
            {
                cluster.Port = LoopbackPorts.FreeTcpPort();
                await cluster.WriteConfigAsync(options, cancellationToken);
                continue;
            }

            throw new EngineException(
                $"PostgreSQL in {directory} did not start on port {cluster.Port}: {result.Output.TrimEnd()}{Environment.NewLine}Last lines of {cluster.LogFile}:{Environment.NewLine}{log}");
        }
    }

    /// <summary>Opens a cluster folder without starting it; null when the folder holds no cluster.</summary>
    public static PostgresCluster? Open(string directory)
    {
        var full = Path.GetFullPath(directory);
        return ReadPort(full) is { } port ? new PostgresCluster(full, port) : null;
    }

    /// <summary>Stops the server: <c>fast</c> rolls back open transactions; <c>immediate</c> skips the checkpoint.</summary>
    public async Task StopAsync(bool immediate = false, CancellationToken cancellationToken = default)
    {
        if (!IsRunning)
        {
            return;
        }

        await PostgresTools.RunCheckedAsync("pg_ctl", ["-D", DataDirectory, "-m", immediate ? "immediate" : "fast", "-w", "-t", "60", "stop"], cancellationToken);
    }

    /// <summary>A shell script that stops this cluster at once and removes its folder, for a <see cref="Reaper"/>.</summary>
    public string DestroyScript() =>
        $"{Processes.PidFileFunctionsScript} geo_owns {Shell.Quote(Path.Combine(DataDirectory, "postmaster.pid"))} && " +
        $"{PostgresTools.ShellCommand("pg_ctl", ["-D", DataDirectory, "-m", "immediate", "-w", "stop"])} >/dev/null 2>&1; rm -rf {Shell.Quote(Directory)}";

    private async Task InitializeAsync(PostgresClusterOptions options, CancellationToken cancellationToken)
    {
        if (Port == 0)
        {
            Port = LoopbackPorts.FreeTcpPort();
        }

        // The folder belongs to the server's user; root runs the tools through runuser (initdb refuses root).
        System.IO.Directory.CreateDirectory(Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        await PostgresTools.GiveToServerUserAsync(Directory, cancellationToken);
        if (options.RequirePassword)
        {
            await InitializeWithPasswordAsync(cancellationToken);
        }
        else
        {
            await PostgresTools.RunCheckedAsync(
                "initdb", ["-D", DataDirectory, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"], cancellationToken);
        }

        await WriteConfigAsync(options, cancellationToken);
        var conf = Path.Combine(DataDirectory, "postgresql.conf");
        await File.AppendAllTextAsync(conf, $"{Environment.NewLine}include_if_exists = '{ConfigFileName}'{Environment.NewLine}", cancellationToken);
    }

    /// <summary>
    /// initdb with scram-sha-256 for every connection and a generated superuser password: the password goes to initdb in a
    /// file only the server's user reads (removed at once), and stays in <see cref="PasswordFile"/>, which only the caller reads.
    /// </summary>
    private async Task InitializeWithPasswordAsync(CancellationToken cancellationToken)
    {
        var password = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24)).ToLowerInvariant();
        var pwfile = Path.Combine(Directory, "initdb.pw");
        PrivateFile.Write(pwfile, password + "\n");
        try
        {
            await PostgresTools.GiveToServerUserAsync(pwfile, cancellationToken);
            await PostgresTools.RunCheckedAsync("initdb",
                ["-D", DataDirectory, "-U", "postgres", "-A", "scram-sha-256", $"--pwfile={pwfile}", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"],
                cancellationToken);
        }
        finally
        {
            File.Delete(pwfile);
        }

        // Any host, port and database: the port may change before the first start, and the file names one user only.
        PrivateFile.Write(PasswordFile, $"*:*:*:postgres:{password}\n");
    }

    private async Task WriteConfigAsync(PostgresClusterOptions options, CancellationToken cancellationToken)
    {
        var settings = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["port"] = Port.ToString(CultureInfo.InvariantCulture),
            ["listen_addresses"] = "'127.0.0.1'",
            ["unix_socket_directories"] = $"'{Directory}'",
            // Only the server's own user may use the socket; everyone else comes over TCP, with a password when one is required.
            ["unix_socket_permissions"] = "0700",
            ["wal_level"] = "logical",
            ["max_replication_slots"] = "32",
            ["max_wal_senders"] = "32",
            ["max_connections"] = "300",
            ["shared_buffers"] = "256MB",
            // The data sits in memory or on SSD: with the default 4, the planner preferred reading a whole small table
            // to a few index lookups (a group commit's charging read scanned every balance and bucket of the shard).
            ["random_page_cost"] = "1.1",
            // After each checkpoint the first change of every page writes the whole page to the WAL (full_page_writes);
            // with the defaults (5 min, 1 GB) an accounting burst checkpointed every two minutes and over a quarter of its WAL
            // was page images, which the WAL sender also decodes. Recovery after a crash replays at most this much.
            ["checkpoint_timeout"] = "15min",
            ["max_wal_size"] = "4GB",
            ["logging_collector"] = "off",
            ["log_min_messages"] = "warning",
        };
        if (!options.Durable)
        {
            settings["fsync"] = "off";
            settings["synchronous_commit"] = "off";
            settings["full_page_writes"] = "off";
        }

        foreach (var (key, value) in options.Settings)
        {
            settings[key] = value;
        }

        var text = new StringBuilder("# Written by Geo.Engines; the port and settings of this private cluster.\n");
        foreach (var (key, value) in settings)
        {
            text.Append(key).Append(" = ").Append(value).Append('\n');
        }

        var path = Path.Combine(DataDirectory, ConfigFileName);
        await File.WriteAllTextAsync(path, text.ToString(), cancellationToken);
        await PostgresTools.GiveToServerUserAsync(path, cancellationToken);
    }

    private static int? ReadPort(string directory)
    {
        var path = Path.Combine(directory, "data", ConfigFileName);
        if (!File.Exists(path))
        {
            return null;
        }

        foreach (var line in File.ReadLines(path))
        {
            if (line.StartsWith("port = ", StringComparison.Ordinal) &&
                int.TryParse(line.AsSpan(7), NumberStyles.Integer, CultureInfo.InvariantCulture, out var port))
            {
                return port;
            }
        }

        return null;
    }

    private static string TailOf(string path)
    {
        try
        {
            var lines = File.ReadAllLines(path);
            return string.Join(Environment.NewLine, lines.Skip(Math.Max(0, lines.Length - 15)));
        }
        catch (IOException)
        {
            return "(no log)";
        }
    }
}
