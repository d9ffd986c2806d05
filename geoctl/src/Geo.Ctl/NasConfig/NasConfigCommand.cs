using System.CommandLine;
using Geo.Ctl.LocalStack;
using Geo.Engines;
using Geo.Provisioning.NasConfig;
using Npgsql;

namespace Geo.Ctl.NasConfig;

/// <summary>
/// <c>geoctl nas-config &lt;nas-id&gt; --format mikrotik|cisco|juniper|freeradius</c>: a NAS's RADIUS client config that
/// fails over within 5 s (<see cref="FailoverTiming"/>). The secret is written only on <c>--show-secret</c> or to an
/// owner-only <c>--output</c> file; otherwise a placeholder stands in.
/// </summary>
internal static class NasConfigCommand
{
    internal const string SecretPlaceholder = NasConfigGenerator.SecretPlaceholder;

    /// <summary>The command; <paramref name="stateDir"/> is geoctl's recursive <c>--state-dir</c> (for the local stack's defaults).</summary>
    public static Command Create(Option<string> stateDir, TextWriter output, TextWriter error)
    {
        var nasId = new Argument<string>("nas-id") { Description = "Id of the NAS in the directory" };
        var format = new Option<string>("--format")
        {
            Description = "Configuration dialect: mikrotik, cisco, juniper or freeradius (a FreeRADIUS proxy in front of the NAS)",
            Required = true,
        };
        format.AcceptOnlyFromAmong("mikrotik", "cisco", "juniper", "freeradius");
        var tenant = new Option<string?>("--tenant") { Description = "Tenant of the NAS (needed when several tenants use the id)" };
        var directory = new Option<string?>("--directory") { Description = "Connection string of the directory database (default: the local stack's)" };
        var secretFile = new Option<string?>("--secret-file") { Description = "File holding the NAS's shared secret (default: the local stack's demo secret of the NAS)" };
        var showSecret = new Option<bool>("--show-secret") { Description = "Print the real shared secret instead of a placeholder" };
        var outputFile = new Option<string?>("--output") { Description = "Write the configuration, with the real secret, to this file (mode 0600) instead of printing it" };

        var command = new Command("nas-config", "Print a NAS's RADIUS client configuration: home region first, backup second, failover within 5 s")
        {
            nasId, format, tenant, directory, secretFile, showSecret, outputFile,
        };
        command.SetAction(async (ParseResult result, CancellationToken cancellationToken) =>
        {
            var layout = new StackLayout(result.GetValue(stateDir)!);
            var id = result.GetValue(nasId)!;
            if (!NasConfigGenerator.TryParseFormat(result.GetValue(format)!, out var dialect))
            {
                await error.WriteLineAsync("geoctl: --format must be mikrotik, cisco, juniper or freeradius");
                return 2;
            }

            try
            {
                var connectionString = result.GetValue(directory) ?? layout.DirectoryConnectionString();
                if (connectionString is null)
                {
                    await error.WriteLineAsync("geoctl: no directory: pass --directory, or start the local stack (geoctl up)");
                    return 2;
                }

                var (nas, problem) = await NasDirectoryReader.LoadAsync(connectionString, id, result.GetValue(tenant), cancellationToken);
                if (nas is null)
                {
                    await error.WriteLineAsync($"geoctl: {problem}");
                    return 1;
                }

                var target = result.GetValue(outputFile);
                var secret = SecretPlaceholder;
                if (target is not null || result.GetValue(showSecret))
                {
                    var file = result.GetValue(secretFile) ?? layout.NasSecretFile(nas.NasId);
                    if (!File.Exists(file))
                    {
                        await error.WriteLineAsync($"geoctl: no secret file {file}: pass --secret-file");
                        return 2;
                    }

                    secret = (await File.ReadAllTextAsync(file, cancellationToken)).Trim();
                }

                var text = NasConfigGenerator.Generate(nas with { Secret = secret }, dialect);
                if (target is null)
                {
                    await output.WriteAsync(text);
                    if (secret == SecretPlaceholder)
                    {
                        await output.WriteLineAsync($"{NasConfigGenerator.CommentPrefix(dialect)} Replace {SecretPlaceholder} with the NAS's shared secret (--show-secret prints it, --output writes it to a private file).");
                    }
                }
                else
                {
                    await PrivateFile.WriteAsync(target, text, cancellationToken);
                    await output.WriteLineAsync($"wrote {target} ({dialect.ToString().ToLowerInvariant()}, NAS {nas.NasId}: primary {nas.Primary.RegionId}, backup {nas.Backup?.RegionId ?? "none"})");
                }

                return 0;
            }
            catch (Exception ex) when (ex is NpgsqlException or ArgumentException or IOException or UnauthorizedAccessException)
            {
                await error.WriteLineAsync($"geoctl: {ex.Message}");
                return 2;
            }
        });
        return command;
    }
}
