using System.CommandLine;
using Geo.Ctl.LocalStack;
using Geo.Engines;
using Geo.Schema.Migrations;
using Npgsql;

namespace Geo.Ctl;

/// <summary>The geoctl command tree.</summary>
public static class GeoCtlCommand
{
    /// <summary>The root command, writing its results to <paramref name="output"/> and its errors to <paramref name="error"/>.</summary>
    public static RootCommand Create(TextWriter output, TextWriter error)
    {
        var stateDir = new Option<string>("--state-dir")
        {
            Description = "Folder of the local stack's state (default: $GEO_STATE_DIR, else ./.geo)",
            Recursive = true,
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("GEO_STATE_DIR") is { Length: > 0 } dir ? dir : ".geo",
        };

        var operatorKeyFile = new Option<string?>(Operators.AuditedAction.KeyFileOption)
        {
            Description = "Operator key to act as in commands that change something (default: $GEO_OPERATOR_KEY_FILE, else the stack's operator.key)",
            Recursive = true,
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("GEO_OPERATOR_KEY_FILE") is { Length: > 0 } file ? file : null,
        };

        var regions = new Option<string>("--regions") { Description = "Comma-separated region ids of a new stack", DefaultValueFactory = _ => "a,b" };
        var subscribers = new Option<int>("--subscribers") { Description = "Demo subscribers per shard of a new stack", DefaultValueFactory = _ => 10_000 };
        var autoPromote = new Option<int?>("--auto-promote-after")
        {
            Description = "Automatic failover: the replicators this run starts promote a shard once its owner's lease has been expired this many seconds (default: off)",
        };
        autoPromote.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int?>() is <= 0)
            {
                result.AddError("--auto-promote-after must be a positive number of seconds");
            }
        });
        var up = new Command("up", "Start the local stack (creating, migrating and seeding it when needed)") { regions, subscribers, autoPromote };
        up.SetAction((result, ct) => Run(result, stateDir, output, error, (runner) =>
            runner.UpAsync(new UpOptions(result.GetValue(regions)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), result.GetValue(subscribers))
            {
                AutoPromoteAfter = result.GetValue(autoPromote) is { } seconds ? TimeSpan.FromSeconds(seconds) : null,
            }, ct)));

        var purge = new Option<bool>("--purge") { Description = "Also delete all data of the local stack" };
        var down = new Command("down", "Stop everything the local stack runs") { purge };
        down.SetAction((result, ct) => Run(result, stateDir, output, error, runner => runner.DownAsync(result.GetValue(purge), ct)));

        var status = new Command("status", "Show what the local stack runs and whether it answers (exit 0 when all is up)");
        status.SetAction((result, ct) => Run(result, stateDir, output, error, runner => runner.StatusAsync(ct)));

        var ledgerTenant = new Option<string?>("--tenant") { Description = "Only this tenant's shards" };
        var checkLedger = new Command("check-ledger",
            "Prove that every balance equals the sum of its ledger, in every shard of the local stack or the deployment (exit 0 when it holds)") { ledgerTenant };
        checkLedger.SetAction((result, ct) => Run(result, stateDir, output, error, _ =>
            Billing.LedgerCheck.RunAsync(new StackLayout(result.GetValue(stateDir)!), result.GetValue(ledgerTenant), new Reporter(output), ct)));

        return new RootCommand("geoctl: the Geo operator CLI")
        {
            stateDir,
            operatorKeyFile,
            up,
            down,
            status,
            checkLedger,
            NasConfig.NasConfigCommand.Create(stateDir, output, error),
            Regions.RegionCommand.Create(stateDir, output, error),
            Tenants.TenantCommand.Create(stateDir, output, error),
            Tenants.NasCommand.Create(stateDir, output, error),
            Operators.OperatorKeyCommand.Create(stateDir, output, error),
            Operators.AuditCommand.Create(stateDir, output, error),
            Replication.VerifyCommand.Create(stateDir, output, error),
            Replication.DebeziumConfigCommand.Create(stateDir, output, error),
            Recovery.DrCommand.Create(stateDir, output, error),
            Drill.DrillCommand.Create(stateDir, output, error),
        };
    }

    private static async Task<int> Run(ParseResult result, Option<string> stateDir, TextWriter output, TextWriter error, Func<LocalStackRunner, Task<int>> action)
    {
        var runner = new LocalStackRunner(new StackLayout(result.GetValue(stateDir)!), new Reporter(output));
        try
        {
            return await action(runner);
        }
        catch (Exception ex) when (ex is StackException or EngineException or MigrationException or NpgsqlException)
        {
            await error.WriteLineAsync($"geoctl: {ex.Message}");
            return 2;
        }
        catch (OperationCanceledException)
        {
            await error.WriteLineAsync("geoctl: cancelled");
            return 130;
        }
    }
}
