using System.CommandLine;
using System.Globalization;
using Geo.Ctl.LocalStack;
using Geo.Ctl.Tenants;
using Geo.Directory.Operators;
using Geo.Engines;
using Geo.Provisioning;

namespace Geo.Ctl.Operators;

/// <summary>
/// <c>geoctl operator-key add|list|revoke</c>: named operator keys of the admin API, stored hashed in the directory.
/// A new key is shown once (or written to a private file); a revoked key is refused by the router from its next
/// request on. The bootstrap key (the stack's operator.key, the router's <c>Router:Admin:OperatorKeySha256</c>) is
/// configured, not stored, and cannot be revoked here.
/// </summary>
internal static class OperatorKeyCommand
{
    private static readonly string[] Header = ["name", "created", "revoked"];
    private static readonly string[] Bootstrap = [OperatorKeys.Bootstrap, "(configured)", "-"];

    public static Command Create(Option<string> stateDir, TextWriter output, TextWriter error)
    {
        var command = new Command("operator-key", "Add, list and revoke named operator keys of the admin API");
        command.Subcommands.Add(AddCommand(stateDir, output, error));
        command.Subcommands.Add(ListCommand(stateDir, output, error));
        command.Subcommands.Add(RevokeCommand(stateDir, output, error));
        return command;
    }

    private static Command AddCommand(Option<string> stateDir, TextWriter output, TextWriter error)
    {
        var name = new Argument<string>("name") { Description = $"Who holds the key: {OperatorKeys.NameRule}" };
        var file = new Option<string?>("--output") { Description = "Write the key to this file (mode 0600) instead of printing it" };
        var add = new Command("add", "Issue a named operator key (shown once; only its SHA-256 is kept)") { name, file };
        add.SetAction((result, ct) => TenantCommand.RunAsync(result, stateDir, output, error, new AuditedAction("operator_key.add", null, new { name = result.GetValue(name) }),
            async (platform, reporter) =>
        {
            var keyName = result.GetValue(name)!;
            if (!OperatorKeys.IsValidName(keyName))
            {
                throw new ProvisioningException($"operator key name '{keyName}': {OperatorKeys.NameRule}");
            }

            var key = OperatorKeys.New();
            if (!await platform.Operators.AddKeyAsync(keyName, OperatorKeys.Hash(key), ct))
            {
                throw new ProvisioningException($"an operator key named {keyName} exists (revoked ones keep their name): choose another name");
            }

            if (result.GetValue(file) is { } path)
            {
                await PrivateFile.WriteAsync(path, key, ct);
                reporter.Line($"Operator key {keyName} issued and written to {StackLayout.Show(path)} (mode 0600); only its hash is kept.");
            }
            else
            {
                reporter.Line($"Operator key {keyName} (shown once; only its hash is kept):");
                reporter.Line($"  {key}");
            }

            return 0;
        }));
        return add;
    }

    private static Command ListCommand(Option<string> stateDir, TextWriter output, TextWriter error)
    {
        var list = new Command("list", "List operator keys: names, when created and revoked (never the keys)");
        list.SetAction((result, ct) => TenantCommand.RunAsync(result, stateDir, output, error, async (platform, reporter) =>
        {
            var keys = await platform.Operators.ListKeysAsync(ct);
            var rows = new List<string[]> { Header, Bootstrap };
            rows.AddRange(keys.Select(k => new[] { k.Name, Time(k.CreatedAt), k.RevokedAt is { } revoked ? Time(revoked) : "-" }));
            foreach (var line in Columns.Align(rows))
            {
                reporter.Line(line);
            }

            return 0;
        }));
        return list;
    }

    private static Command RevokeCommand(Option<string> stateDir, TextWriter output, TextWriter error)
    {
        var name = new Argument<string>("name") { Description = "The key's name" };
        var revoke = new Command("revoke", "Revoke a named operator key: the router refuses it from its next request on") { name };
        revoke.SetAction((result, ct) => TenantCommand.RunAsync(result, stateDir, output, error, new AuditedAction("operator_key.revoke", null, new { name = result.GetValue(name) }),
            async (platform, reporter) =>
        {
            var keyName = result.GetValue(name)!;
            if (!await platform.Operators.RevokeKeyAsync(keyName, ct))
            {
                throw new ProvisioningException(keyName == OperatorKeys.Bootstrap
                    ? "the bootstrap key is configured (the router's Router:Admin:OperatorKeySha256), not stored: it cannot be revoked here"
                    : $"no working operator key named {keyName} (see 'geoctl operator-key list')");
            }

            reporter.Line($"Operator key {keyName} revoked: the router refuses it from now on.");
            return 0;
        }));
        return revoke;
    }

    internal static string Time(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
