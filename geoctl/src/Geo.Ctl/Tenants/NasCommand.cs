using System.CommandLine;
using System.Globalization;
using System.Net;
using Geo.Ctl.Operators;
using Geo.Directory.Operators;
using Geo.Engines;
using Geo.Provisioning;

namespace Geo.Ctl.Tenants;

/// <summary>
/// <c>geoctl nas add|list|remove|rotate-secret</c>: the NAS inventory. Region nodes pick every change up from the
/// directory's notification, without a restart. Secrets are taken from a file or the command line, sealed in
/// the shard databases and kept (for the local stack's radclient and nas-config) in a private file; never printed.
/// </summary>
internal static class NasCommand
{
    public static Command Create(Option<string> stateDir, TextWriter output, TextWriter error)
    {
        var command = new Command("nas", "Add, list, remove NAS devices and rotate their shared secrets");
        command.Subcommands.Add(AddCommand(stateDir, output, error));
        command.Subcommands.Add(ListCommand(stateDir, output, error));
        command.Subcommands.Add(RemoveCommand(stateDir, output, error));
        command.Subcommands.Add(RotateCommand(stateDir, output, error));
        return command;
    }

    private static Option<string> TenantOption() => new("--tenant") { Description = "Tenant operating the NAS", Required = true };

    private static Command AddCommand(Option<string> stateDir, TextWriter output, TextWriter error)
    {
        var tenant = TenantOption();
        var address = new Option<string>("--address") { Description = "Source address of the NAS's RADIUS packets", Required = true };
        var (secret, secretFile) = SecretOptions();
        var vendor = new Option<string>("--vendor") { Description = "generic, mikrotik, cisco or juniper", DefaultValueFactory = _ => "generic" };
        var primary = new Option<string>("--primary") { Description = "Region the NAS sends RADIUS to first", Required = true };
        var backup = new Option<string?>("--backup") { Description = "Region it fails over to" };
        var coaPort = new Option<int>("--coa-port") { Description = "Its CoA/Disconnect port (RFC 5176)", DefaultValueFactory = _ => 3799 };
        var id = new Option<string?>("--id") { Description = "NAS id (default: nas-<address>)" };
        var noMessageAuthenticator = new Option<bool>("--no-message-authenticator") { Description = "Accept its Access-Requests without Message-Authenticator (old NAS only)" };
        var add = new Command("add", "Add a NAS: into every shard inventory of its tenant and the directory")
        {
            tenant, address, secret, secretFile, vendor, primary, backup, coaPort, id, noMessageAuthenticator,
        };
        add.SetAction((result, ct) => TenantCommand.RunAsync(result, stateDir, output, error, new AuditedAction("nas.add", result.GetValue(tenant), new
        {
            nas = result.GetValue(id) ?? (IPAddress.TryParse(result.GetValue(address), out var ip) ? NasProvisioner.DefaultId(ip) : null), address = result.GetValue(address), primary = result.GetValue(primary), backup = result.GetValue(backup),
            vendor = result.GetValue(vendor), coaPort = result.GetValue(coaPort), messageAuthenticator = !result.GetValue(noMessageAuthenticator),
        }), async (platform, reporter) =>
        {
            if (!IPAddress.TryParse(result.GetValue(address), out var ip))
            {
                throw new ProvisioningException($"--address '{result.GetValue(address)}' is not an IP address");
            }

            var nasId = result.GetValue(id) ?? NasProvisioner.DefaultId(ip);
            var shared = await ReadSecretAsync(result, secret, secretFile, ct);
            var spec = new NasSpec(result.GetValue(tenant)!, nasId, ip, shared, result.GetValue(vendor)!, result.GetValue(primary)!, result.GetValue(backup),
                result.GetValue(coaPort), !result.GetValue(noMessageAuthenticator));
            reporter.Line($"Adding NAS {nasId} ({ip}) of tenant {spec.TenantId}");
            await new NasProvisioner(platform.Directory, platform.Databases, platform.OpenSecrets(), reporter).AddAsync(spec, ct);
            await KeepSecretAsync(platform, nasId, shared, ct);
            reporter.Line($"NAS {nasId} added; region nodes pick it up now. Its configuration: geoctl nas-config {nasId} --tenant {spec.TenantId} --format {(spec.Vendor == "generic" ? "freeradius" : spec.Vendor)}");
            return 0;
        }));
        return add;
    }

    private static Command ListCommand(Option<string> stateDir, TextWriter output, TextWriter error)
    {
        var tenant = new Option<string?>("--tenant") { Description = "Only this tenant's NAS" };
        var list = new Command("list", "List NAS devices: address, regions, vendor, CoA port, rotation in progress") { tenant };
        list.SetAction((result, ct) => TenantCommand.RunAsync(result, stateDir, output, error, async (platform, reporter) =>
        {
            var entries = await new NasProvisioner(platform.Directory, platform.Databases, platform.OpenSecrets(), reporter).ListAsync(result.GetValue(tenant), ct);
            reporter.Line($"{"tenant",-12} {"nas",-22} {"address",-16} {"primary",-8} {"backup",-8} {"vendor",-9} {"coa",5}  notes");
            foreach (var entry in entries)
            {
                var device = entry.Device;
                var notes = new List<string>();
                if (entry.PreviousSecretValidUntil is { } until)
                {
                    notes.Add($"rotating: old secret accepted until {until:u}");
                }

                if (entry.Shards == 0)
                {
                    notes.Add("missing from the shard inventories ('nas add' again)");
                }

                reporter.Line($"{device.TenantId,-12} {device.Id,-22} {device.Address,-16} {device.PrimaryRegion,-8} {device.BackupRegion ?? "-",-8} {entry.Vendor ?? "?",-9} {(entry.CoaPort?.ToString(CultureInfo.InvariantCulture) ?? "?"),5}  {string.Join("; ", notes)}");
            }

            return 0;
        }));
        return list;
    }

    private static Command RemoveCommand(Option<string> stateDir, TextWriter output, TextWriter error)
    {
        var tenant = TenantOption();
        var id = new Option<string>("--id") { Description = "The NAS id", Required = true };
        var remove = new Command("remove", "Remove a NAS: region nodes stop answering it") { tenant, id };
        remove.SetAction((result, ct) => TenantCommand.RunAsync(result, stateDir, output, error, new AuditedAction("nas.remove", result.GetValue(tenant), new { nas = result.GetValue(id) }),
            async (platform, reporter) =>
        {
            var nasId = result.GetValue(id)!;
            var found = await new NasProvisioner(platform.Directory, platform.Databases, platform.OpenSecrets(), reporter).RemoveAsync(result.GetValue(tenant)!, nasId, ct);
            File.Delete(platform.Layout.NasSecretFile(nasId));
            reporter.Line(found ? $"NAS {nasId} removed." : $"NAS {nasId} was not there: nothing to remove.");
            return 0;
        }));
        return remove;
    }

    private static Command RotateCommand(Option<string> stateDir, TextWriter output, TextWriter error)
    {
        var tenant = TenantOption();
        var id = new Option<string>("--id") { Description = "The NAS id", Required = true };
        var (secret, secretFile) = SecretOptions(required: false);
        var overlap = new Option<string>("--overlap") { Description = "How long the old secret stays valid: 90s, 30m, 24h, 7d", DefaultValueFactory = _ => "24h" };
        var finish = new Option<bool>("--finish") { Description = "End the overlap now: only the new secret is accepted from here on" };
        var force = new Option<bool>("--force") { Description = "Rotate again inside a running overlap (the oldest secret stops working at once)" };
        var rotate = new Command("rotate-secret", "Give a NAS a new shared secret; the old one stays valid for the overlap, so the NAS is re-keyed without an outage")
        {
            tenant, id, secret, secretFile, overlap, finish, force,
        };
        rotate.SetAction((result, ct) => TenantCommand.RunAsync(result, stateDir, output, error, result.GetValue(finish)
            ? new AuditedAction("nas.secret.finish", result.GetValue(tenant), new { nas = result.GetValue(id) })
            : new AuditedAction("nas.secret.rotate", result.GetValue(tenant), new { nas = result.GetValue(id), overlap = result.GetValue(overlap), force = result.GetValue(force) }),
            async (platform, reporter) =>
        {
            var nasId = result.GetValue(id)!;
            var provisioner = new NasProvisioner(platform.Directory, platform.Databases, platform.OpenSecrets(), reporter);
            if (result.GetValue(finish))
            {
                await provisioner.FinishRotationAsync(result.GetValue(tenant)!, nasId, ct);
                reporter.Line($"NAS {nasId}: rotation finished, only the new secret is accepted.");
                return 0;
            }

            var shared = await ReadSecretAsync(result, secret, secretFile, ct);
            var until = await provisioner.RotateSecretAsync(result.GetValue(tenant)!, nasId, shared, ParseDuration(result.GetValue(overlap)!, "--overlap"), result.GetValue(force), ct);
            await KeepSecretAsync(platform, nasId, shared, ct);
            reporter.Line($"NAS {nasId}: new secret active; the old one is accepted until {until:u}. Re-key the NAS, then 'nas rotate-secret --finish' (or let it expire).");
            return 0;
        }));
        return rotate;
    }

    private static (Option<string?> Secret, Option<string?> SecretFile) SecretOptions(bool required = true) => (
        new Option<string?>("--secret") { Description = "The shared secret (visible in the process list: prefer --secret-file)" },
        new Option<string?>("--secret-file") { Description = required ? "File holding the shared secret (one of --secret, --secret-file is required)" : "File holding the new shared secret" });

    private static async Task<string> ReadSecretAsync(ParseResult result, Option<string?> secret, Option<string?> secretFile, CancellationToken cancellationToken)
    {
        if (result.GetValue(secretFile) is { } file)
        {
            return File.Exists(file) ? (await File.ReadAllTextAsync(file, cancellationToken)).Trim() : throw new ProvisioningException($"no secret file {file}");
        }

        return result.GetValue(secret) is { Length: > 0 } value ? value : throw new ProvisioningException("give the shared secret with --secret-file (or --secret)");
    }

    /// <summary>The local stack keeps each NAS secret in a private file (radclient lines and nas-config read it).</summary>
    private static Task KeepSecretAsync(Platform platform, string nasId, string secret, CancellationToken cancellationToken) =>
        PrivateFile.WriteAsync(platform.Layout.NasSecretFile(nasId), secret, cancellationToken);

    /// <summary>90s, 30m, 24h, 7d (or a TimeSpan such as 01:30:00).</summary>
    internal static TimeSpan ParseDuration(string text, string option) =>
        AuditQuery.TryParseSpan(text, out var span)
            ? span
            : throw new ProvisioningException($"{option} '{text}' is not a duration such as 90s, 30m, 24h or 7d");
}
