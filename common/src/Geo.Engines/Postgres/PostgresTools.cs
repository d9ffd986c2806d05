namespace Geo.Engines.Postgres;

/// <summary>Finds the PostgreSQL server binaries and runs them as the server's own user.</summary>
internal static class PostgresTools
{
    private const string ServerUser = "postgres";

    private static readonly Lazy<string> BinDirectory = new(FindBinDirectory);

    /// <summary>Root cannot run initdb or the server: the tools then run through runuser as postgres.</summary>
    private static bool RunAsServerUser => Environment.IsPrivilegedProcess;

    public static Task<ProcessRunner.Result> RunAsync(string tool, IEnumerable<string> arguments, CancellationToken cancellationToken)
    {
        var (file, args) = Command(tool, arguments);
        return ProcessRunner.RunAsync(file, args, cancellationToken);
    }

    public static Task<string> RunCheckedAsync(string tool, IEnumerable<string> arguments, CancellationToken cancellationToken)
    {
        var (file, args) = Command(tool, arguments);
        return ProcessRunner.RunCheckedAsync(file, args, cancellationToken);
    }

    /// <summary>The path of a client tool (pg_dump, psql): these run as the calling user, over TCP.</summary>
    public static string ClientTool(string tool) => Path.Combine(BinDirectory.Value, tool);

    public static string ShellCommand(string tool, IEnumerable<string> arguments)
    {
        var (file, args) = Command(tool, arguments);
        return string.Join(' ', args.Prepend(file).Select(Shell.Quote));
    }

    public static async Task GiveToServerUserAsync(string path, CancellationToken cancellationToken)
    {
        if (RunAsServerUser)
        {
            await ProcessRunner.RunCheckedAsync("chown", [$"{ServerUser}:{ServerUser}", path], cancellationToken);
        }
    }

    private static (string File, List<string> Arguments) Command(string tool, IEnumerable<string> arguments)
    {
        var binary = Path.Combine(BinDirectory.Value, tool);
        return RunAsServerUser
            ? ("runuser", ["-u", ServerUser, "--", binary, .. arguments])
            : (binary, [.. arguments]);
    }

    private static string FindBinDirectory()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable("GEO_PG_BIN");
        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            return fromEnvironment;
        }

        const string Root = "/usr/lib/postgresql";
        if (System.IO.Directory.Exists(Root))
        {
            var newest = System.IO.Directory.GetDirectories(Root)
                .Select(d => (Dir: d, Version: int.TryParse(Path.GetFileName(d), out var v) ? v : 0))
                .Where(d => File.Exists(Path.Combine(d.Dir, "bin", "initdb")))
                .OrderByDescending(d => d.Version)
                .FirstOrDefault();
            if (newest.Dir is not null)
            {
                return Path.Combine(newest.Dir, "bin");
            }
        }

        throw new EngineException("PostgreSQL server binaries not found under /usr/lib/postgresql (install: apt-get install -y postgresql; or set GEO_PG_BIN)");
    }
}
