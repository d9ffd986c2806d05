using System.CommandLine;
using Geo.Ctl.LocalStack;
using Geo.Engines;
using Npgsql;

namespace Geo.Ctl.Drill;

/// <summary><c>geoctl drill</c>: a failure drill on the running local stack, measuring RTO, RPO, wrong rejects and double charges.</summary>
internal static class DrillCommand
{
    public static Command Create(Option<string> stateDir, TextWriter output, TextWriter error)
    {
        var scenario = new Option<string>("--scenario")
        {
            Description = "kill-region (SIGKILL the region's node and PostgreSQL), kill-database (its PostgreSQL only), partition (freeze the whole region), switchover (planned)",
            Required = true,
        };
        scenario.AcceptOnlyFromAmong([.. DrillOptions.Names]);
        var region = new Option<string>("--region") { Description = "The region to fail: its own shards and the NAS whose primary it is", Required = true };
        var rate = new Option<int>("--rate") { Description = "Accounting requests a second over the region's NAS", DefaultValueFactory = _ => 2000 };
        var authRate = new Option<int>("--auth-rate") { Description = "Logins a second; each accepted one runs a session of rate / auth-rate accounting requests", DefaultValueFactory = _ => 500 };
        var duration = new Option<int>("--duration") { Description = "Seconds of load at least (the load goes on until the region is home again)", DefaultValueFactory = _ => 60 };
        var faultAt = new Option<int?>("--fault-at") { Description = "Seconds into the load when the fault is applied (default: a quarter of the duration, at least 5)" };
        var promote = new Option<string>("--promote") { Description = "manual: run 'geoctl dr promote' --promote-delay after the fault; auto: wait for automatic failover", DefaultValueFactory = _ => "manual" };
        promote.AcceptOnlyFromAmong("manual", "auto");
        var promoteDelay = new Option<int>("--promote-delay") { Description = "Seconds the operator takes to promote (manual)", DefaultValueFactory = _ => 5 };
        var interval = new Option<double>("--interim-interval") { Description = "Seconds between a session's accounting requests", DefaultValueFactory = _ => 2 };
        var hold = new Option<int>("--hold") { Description = "Seconds of load at the new owner before the region is restored", DefaultValueFactory = _ => 5 };
        var maxRto = new Option<double>("--max-rto") { Description = "Pass limit: seconds from the fault to the first Access-Accept through the backup", DefaultValueFactory = _ => 10 };
        var maxRpo = new Option<double>("--max-rpo") { Description = "Pass limit: seconds of acknowledged accounting lost at the promotion", DefaultValueFactory = _ => 1 };
        var tenant = new Option<string?>("--tenant") { Description = "Drill only this tenant's shards (required against a deployment: its test tenant)" };
        var nasSecretFile = new Option<string?>("--nas-secret-file") { Description = "The tenant's NAS shared secret (default: the local stack's demo secret of each NAS)" };
        var subscribersFile = new Option<string?>("--subscribers-file") { Description = "CSV of the subscribers to log in as, username,password after a header line (default: the local stack's demo credentials)" };
        var outDir = new Option<string?>("--out") { Description = "Where report.md, report.json, timeline.svg and commands.log go (default: <state-dir>/drills/<scenario>-<time>)" };
        var command = new Command("drill",
            "Rehearse a failover on the running local stack under load: fault, promotion, rejoin, failback; report RTO, RPO (measured and estimated), wrong rejects, " +
            "double charges, lost accounting (exit 0 pass, 1 fail, 2 could not run). Against a deployment (platform.json): the switchover of a test tenant")
        {
            scenario, region, rate, authRate, duration, faultAt, promote, promoteDelay, interval, hold, maxRto, maxRpo, tenant, nasSecretFile, subscribersFile, outDir,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var kind = DrillOptions.Parse(result.GetValue(scenario)!);
            var layout = new StackLayout(result.GetValue(stateDir)!);
            var (perSecond, logins, seconds) = (result.GetValue(rate), result.GetValue(authRate), result.GetValue(duration));
            if (perSecond < 1 || logins < 1 || seconds < 1 || logins > perSecond || result.GetValue(interval) <= 0)
            {
                await error.WriteLineAsync("geoctl: --rate, --auth-rate, --duration and --interim-interval must be positive, and --auth-rate at most --rate");
                return 2;
            }

            var options = new DrillOptions(kind, result.GetValue(region)!, perSecond, logins, TimeSpan.FromSeconds(seconds), result.GetValue(promote) == "auto",
                result.GetValue(outDir) ?? Path.Combine(layout.Root, "drills", $"{result.GetValue(scenario)}-{DateTime.UtcNow:yyyyMMdd-HHmmss}"))
            {
                FaultAt = result.GetValue(faultAt) is { } at ? TimeSpan.FromSeconds(at) : null,
                PromoteDelay = TimeSpan.FromSeconds(Math.Max(0, result.GetValue(promoteDelay))),
                Hold = TimeSpan.FromSeconds(Math.Max(0, result.GetValue(hold))),
                Interval = TimeSpan.FromSeconds(result.GetValue(interval)),
                MaxRtoSeconds = result.GetValue(maxRto),
                MaxRpoSeconds = result.GetValue(maxRpo),
                Tenant = result.GetValue(tenant),
                NasSecretFile = result.GetValue(nasSecretFile),
                SubscribersFile = result.GetValue(subscribersFile),
            };
            try
            {
                return await new DrillRunner(layout, options, new Reporter(output)).RunAsync(cancellationToken);
            }
            catch (Exception ex) when (ex is StackException or DrillFailedException or EngineException or NpgsqlException or IOException)
            {
                await error.WriteLineAsync($"geoctl: drill: {ex.Message}");
                return 2;
            }
        });
        return command;
    }
}
