using Geo.Engines;

namespace Geo.LoadTests.Compare;

/// <summary>
/// FreeRADIUS 3.2 with its PostgreSQL driver, from Debian's packages (<c>freeradius</c>, <c>freeradius-postgresql</c>):
/// found where the packages put it, or installed on demand when this process runs as root.
/// </summary>
internal sealed record FreeRadiusPackages(string Binary, string Version)
{
    public const string InstallCommand = "apt-get install -y --no-install-recommends freeradius freeradius-postgresql";

    /// <summary>The modules (rlm_*.so) of the packaged server.</summary>
    public const string ModuleDirectory = "/usr/lib/freeradius";

    /// <summary>The packaged configuration; the private instance takes rlm_sql's queries and the accounting policy from it.</summary>
    public const string PackagedConfig = "/etc/freeradius/3.0";

    /// <summary>Debian's rlm_sql schema for PostgreSQL (radcheck, radacct, ...).</summary>
    public static string SchemaFile => Path.Combine(PackagedConfig, "mods-config", "sql", "main", "postgresql", "schema.sql");

    private static string PostgresDriver => Path.Combine(ModuleDirectory, "rlm_sql_postgresql.so");

    private static string Queries => Path.Combine(PackagedConfig, "mods-config", "sql", "main", "postgresql", "queries.conf");

    /// <summary>Finds the installed server, installing the packages first when something is missing (root only).</summary>
    public static async Task<FreeRadiusPackages> EnsureInstalledAsync(TextWriter output, CancellationToken cancellationToken)
    {
        // Debian keeps /etc/freeradius to root and the freerad group: another user sees no file below it, installed or not.
        if (!Environment.IsPrivilegedProcess && System.IO.Directory.Exists(Path.GetDirectoryName(PackagedConfig)) && !System.IO.Directory.Exists(PackagedConfig))
        {
            throw new EngineException($"cannot read FreeRADIUS's packaged configuration in {PackagedConfig} (readable by root and the freerad group only): run as root");
        }

        var missing = Missing();
        if (missing.Count > 0)
        {
            if (!Environment.IsPrivilegedProcess)
            {
                throw new EngineException(
                    $"FreeRADIUS 3.2 is not installed (missing: {string.Join(", ", missing)}) and installing it needs root. Run as root: {InstallCommand}");
            }

            output.WriteLine($"FreeRADIUS is not installed (missing: {string.Join(", ", missing)}); installing: {InstallCommand}");
            await InstallAsync(cancellationToken);
            missing = Missing();
            if (missing.Count > 0)
            {
                throw new EngineException($"'{InstallCommand}' succeeded but these are still missing: {string.Join(", ", missing)}");
            }
        }

        var binary = FindBinary()!;
        var banner = await ProcessRunner.RunAsync(binary, ["-v"], cancellationToken);
        // "radiusd: FreeRADIUS Version 3.2.1, for host x86_64-pc-linux-gnu, built on ..."
        var line = banner.Output.Split('\n').FirstOrDefault(l => l.Contains("FreeRADIUS Version", StringComparison.Ordinal)) ?? "";
        var version = line.Split("FreeRADIUS Version ", 2) is [_, var rest] ? rest.Split(',')[0].Trim() : "unknown";
        if (!version.StartsWith("3.", StringComparison.Ordinal))
        {
            throw new EngineException($"{binary} reports version '{version}'; the generated configuration is for FreeRADIUS 3.x ({line.Trim()})");
        }

        return new FreeRadiusPackages(binary, version);
    }

    private static List<string> Missing()
    {
        var missing = new List<string>();
        if (FindBinary() is null)
        {
            missing.Add("the freeradius program");
        }

        missing.AddRange(new[] { PostgresDriver, SchemaFile, Queries }.Where(f => !File.Exists(f)));
        return missing;
    }

    /// <summary>On PATH, else where Debian puts it (/usr/sbin is not on every user's PATH).</summary>
    private static string? FindBinary() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Append("/usr/sbin")
            .Select(directory => Path.Combine(directory, "freeradius"))
            .FirstOrDefault(File.Exists);

    private static async Task InstallAsync(CancellationToken cancellationToken)
    {
        Environment.SetEnvironmentVariable("DEBIAN_FRONTEND", "noninteractive");
        string[] install = ["install", "-y", "--no-install-recommends", "freeradius", "freeradius-postgresql"];
        var result = await ProcessRunner.RunAsync("apt-get", install, cancellationToken);
        if (!result.Succeeded)
        {
            // A new machine's package lists may be empty or stale: refresh them once and try again.
            await ProcessRunner.RunCheckedAsync("apt-get", ["update"], cancellationToken);
            result = await ProcessRunner.RunAsync("apt-get", install, cancellationToken);
        }

        if (!result.Succeeded)
        {
            var lines = result.Output.TrimEnd().Split('\n');
            throw new EngineException(
                $"'{InstallCommand}' exited with {result.ExitCode}:{Environment.NewLine}{string.Join('\n', lines.Skip(Math.Max(0, lines.Length - 15)))}");
        }
    }
}
