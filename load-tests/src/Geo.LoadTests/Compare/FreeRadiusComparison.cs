using System.CommandLine;
using System.Globalization;
using System.Net;
using Geo.Engines;
using Geo.Engines.Postgres;
using Geo.Radius.Dictionary;
using static Geo.LoadTests.Radius.RadiusBenchmark;

namespace Geo.LoadTests.Compare;

/// <summary>
/// <c>geo-load compare freeradius</c>: the same closed-loop load (auth hot, auth cold, accounting) against a private
/// FreeRADIUS 3.2 + rlm_sql on a private PostgreSQL holding the demo subscribers, and against the region node of the
/// running local stack, one after the other on the same machine; prints both and the ratio.
/// </summary>
internal static class FreeRadiusComparison
{
    public static Command Create()
    {
        var stack = new Option<string>("--stack") { Description = "State folder of the running local stack (./geo up); ports, NAS secret and credentials are read from it", DefaultValueFactory = _ => ".geo" };
        var region = new Option<string>("--region") { Description = "Region of the local stack whose node is measured", DefaultValueFactory = _ => "a" };
        var tenant = new Option<string>("--tenant") { Description = "Demo tenant whose NAS address and subscribers are used", DefaultValueFactory = _ => "acme" };
        var subscribers = new Option<int>("--subscribers") { Description = "Subscribers in FreeRADIUS's radcheck (the stack's demo credentials first)", DefaultValueFactory = _ => 1_000_000 };
        var concurrency = new Option<int>("--concurrency") { Description = "Closed loop: requests in flight", DefaultValueFactory = _ => 128 };
        var duration = new Option<double>("--duration") { Description = "Measured seconds of each run", DefaultValueFactory = _ => 10 };
        var warmup = new Option<double>("--warmup") { Description = "Unmeasured seconds before each run", DefaultValueFactory = _ => 3 };
        var hotSet = new Option<int>("--hot-set") { Description = "Subscribers of the auth hot runs and of the accounting sessions", DefaultValueFactory = _ => 10_000 };
        var command = new Command("freeradius",
            "FreeRADIUS 3.2 + rlm_sql (PostgreSQL) against the local stack's region node: the same load on the same machine; prints requests/s, p50/p99 and the ratio")
        {
            stack, region, tenant, subscribers, concurrency, duration, warmup, hotSet,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var options = new Options(result.GetValue(stack)!, result.GetValue(region)!, result.GetValue(tenant)!, Math.Max(1, result.GetValue(subscribers)),
                Math.Max(1, result.GetValue(hotSet)), new Settings("auth", Math.Max(1, result.GetValue(concurrency)), 0,
                    TimeSpan.FromSeconds(result.GetValue(duration)), TimeSpan.FromSeconds(result.GetValue(warmup)), Cold: false));
            try
            {
                return await RunAsync(options, Console.Out, cancellationToken);
            }
            catch (EngineException ex)
            {
                await Console.Error.WriteLineAsync($"geo-load compare freeradius: {ex.Message}");
                return 2;
            }
        });
        return command;
    }

    private static async Task<int> RunAsync(Options options, TextWriter output, CancellationToken cancellationToken)
    {
        // The node first: without a running stack nothing else is worth starting.
        if (await GeoTargetAsync(options) is not { } geo)
        {
            return 2;
        }

        var packages = await FreeRadiusPackages.EnsureInstalledAsync(output, cancellationToken);
        output.WriteLine($"geo-load compare freeradius: FreeRADIUS {packages.Version} ({packages.Binary}) against the Geo region node {options.Region} " +
            $"(127.0.0.1:{geo.AuthPort}/{geo.AcctPort}), both loaded from NAS {geo.NasAddress}");
        var seeded = DemoSubscribers.Load(CredentialsFile(options), options.Tenant, options.Region, options.Subscribers, output);

        // The load names only subscribers both servers know, of a flat plan (no rating in Geo, none in FreeRADIUS) and active.
        var known = seeded.Select(s => s.Username).ToHashSet(StringComparer.Ordinal);
        var pool = geo.Credentials.Where(c => known.Contains(c.Username)).ToList();
        if (pool.Count == 0)
        {
            await Console.Error.WriteLineAsync($"geo-load compare freeradius: none of the {seeded.Count:N0} subscribers given to FreeRADIUS is an active flat-plan subscriber of the stack: raise --subscribers");
            return 2;
        }

        var folder = System.IO.Directory.CreateTempSubdirectory("geo-load-freeradius-").FullName;
        // PostgreSQL runs as its own user and must reach its folder below this one.
        File.SetUnixFileMode(folder, (UnixFileMode)0b111_101_101);
        var cluster = await PostgresCluster.StartAsync(new PostgresClusterOptions { Directory = Path.Combine(folder, "postgres"), Durable = true }, cancellationToken);
        // Stops the cluster and removes the folder however this process ends (FreeRADIUS has a reaper of its own).
        using var reaper = Reaper.Start($"{cluster.DestroyScript()}; rm -rf {Shell.Quote(folder)}");
        output.WriteLine($"  PostgreSQL for FreeRADIUS: 127.0.0.1:{cluster.Port} (durable), database '{FreeRadiusDatabase.Name}'");
        await FreeRadiusDatabase.CreateAsync(cluster, seeded, output, cancellationToken);

        await using var freeradius = await FreeRadiusServer.StartAsync(packages, Path.Combine(folder, "freeradius"), cluster.Port, pool[0], geo.NasAddress, cancellationToken);
        output.WriteLine($"  FreeRADIUS: 127.0.0.1:{freeradius.AuthPort}/{freeradius.AcctPort}, {FreeRadiusServer.MaxThreads} threads at most, " +
            $"rlm_sql pool start {FreeRadiusServer.PoolStart}, min {FreeRadiusServer.PoolMin}, max {FreeRadiusServer.PoolMax} connections; log {freeradius.LogFile}");
        var servers = new[]
        {
            new Server("FreeRADIUS", new Target(freeradius.AuthPort, freeradius.AcctPort, 0, geo.NasAddress, freeradius.Secret, [])),
            new Server("Geo", geo),
        };

        var hot = pool.Take(options.HotSet).ToList();
        var rows = new List<Row>
        {
            await CompareAsync("auth hot", $"{hot.Count:N0} subscribers over and over", servers, s => AuthAsync(s, hot, cold: false, options, output, cancellationToken), output),
            await CompareAsync("auth cold", $"each request another of {pool.Count:N0}, shuffled", servers, s => AuthAsync(s, pool, cold: true, options, output, cancellationToken), output),
            await CompareAsync("accounting", $"sessions of {hot.Count:N0} subscribers: Start, 3 Interim-Updates, Stop", servers,
                s => AccountingAsync(s, hot, options, output, cancellationToken), output),
        };

        output.WriteLine();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"FreeRADIUS {packages.Version} + rlm_sql vs Geo, closed loop with {options.Settings.Concurrency} in flight, {options.Settings.Duration.TotalSeconds:0.#} s each after {options.Settings.Warmup.TotalSeconds:0.#} s of warm-up (client-side latency):"));
        foreach (var row in rows)
        {
            output.WriteLine(row.Format());
        }

        return 0;
    }

    /// <summary>The region node of the stack, with its active flat-plan demo subscribers (shuffled); null, and why on stderr, when it does not answer.</summary>
    private static async Task<Target?> GeoTargetAsync(Options options)
    {
        var stateFile = Path.Combine(options.Stack, "stack.json");
        if (!File.Exists(stateFile))
        {
            await Console.Error.WriteLineAsync($"geo-load compare freeradius: no local stack in {Path.GetFullPath(options.Stack)} ({stateFile} is missing). " +
                "Start one with ./geo up first, or point --stack at its state folder.");
            return null;
        }

        Target geo;
        try
        {
            geo = Target.FromStack(options.Stack, options.Region, options.Tenant, "flat", hotSet: null);
        }
        catch (UnauthorizedAccessException ex)
        {
            await Console.Error.WriteLineAsync($"geo-load compare freeradius: cannot read the local stack's demo data ({ex.Message}): run as the user who started the stack.");
            return null;
        }
        catch (Exception ex) when (ex is IOException or ArgumentException)
        {
            await Console.Error.WriteLineAsync($"geo-load compare freeradius: the local stack in {Path.GetFullPath(options.Stack)} has no demo data for tenant {options.Tenant} in region {options.Region} ({ex.Message}). " +
                "Start the stack with ./geo up first.");
            return null;
        }

        var probe = new Target(geo.AuthPort, geo.AcctPort, geo.MetricsPort, geo.NasAddress, geo.Secret, geo.Credentials.Take(1).ToList());
        if (probe.Credentials.Count == 0 || (await probe.WithClassesAsync(new IPEndPoint(IPAddress.Loopback, geo.AuthPort), TextWriter.Null)).Credentials.Count == 0)
        {
            await Console.Error.WriteLineAsync($"geo-load compare freeradius: the region node {options.Region} (127.0.0.1:{geo.AuthPort}, from {stateFile}) " +
                "did not accept a demo subscriber: is the local stack running? Start it with ./geo up first.");
            return null;
        }

        return geo;
    }

    private static string CredentialsFile(Options options) =>
        Path.Combine(options.Stack, "demo", "subscribers", $"geo_{options.Tenant}_{options.Region}.csv");

    /// <summary>Runs one kind of load against each server in turn (FreeRADIUS first), printing each run's figures as it ends.</summary>
    private static async Task<Row> CompareAsync(string name, string description, Server[] servers, Func<Server, Task<(RunResult Result, string? Note)>> run, TextWriter output)
    {
        var results = new List<RunResult>();
        foreach (var server in servers)
        {
            output.WriteLine();
            output.WriteLine($"{server.Name}: {name} ({description})");
            var (result, note) = await run(server);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {result.RequestsPerSecond:N0} requests/s ({result.Ok} ok, {result.Rejected} rejected, {result.Timeouts} timeouts); latency {result.Latency.Summary()}"));
            if (note is not null)
            {
                output.WriteLine($"  note: {note}");
            }

            results.Add(result);
        }

        return new Row(name, results[0], results[1]);
    }

    private static async Task<(RunResult, string?)> AuthAsync(Server server, List<(string Username, string Password)> credentials, bool cold,
        Options options, TextWriter output, CancellationToken cancellationToken)
    {
        var order = credentials.ToArray();
        if (cold)
        {
            // A new order per run: no server sees the subscribers in the order the previous run named them.
            Random.Shared.Shuffle(order);
        }

        var target = server.Naming([.. order]);
        var result = await MeasureAsync([target], options.Settings with { Mode = "auth", Cold = cold }, output, null, null, cancellationToken);
        var note = cold && target.Order.Issued > target.Order.Count
            ? $"the run named {target.Order.Issued:N0} subscribers of {target.Order.Count:N0}: it went round them again, so the later ones were not cold (raise --subscribers)"
            : null;
        return (result, note);
    }

    /// <summary>
    /// Accounting as RadiusBenchmark runs it: an Accounting-On, every session's subscriber authenticated once (a Geo session
    /// carries the Class of its Access-Accept), the measured sessions, an Accounting-Off that closes those left open.
    /// </summary>
    private static async Task<(RunResult, string?)> AccountingAsync(Server server, List<(string Username, string Password)> credentials,
        Options options, TextWriter output, CancellationToken cancellationToken)
    {
        var target = server.Naming(credentials);
        await target.SendNasStatusAsync(AcctStatusType.AccountingOn, output);
        target = await target.WithClassesAsync(new IPEndPoint(IPAddress.Loopback, target.AuthPort), output);
        if (target.Credentials.Count == 0)
        {
            throw new EngineException($"{server.Name} accepted none of the accounting sessions' {credentials.Count:N0} subscribers: nothing to account for");
        }

        var result = await MeasureAsync([target], options.Settings with { Mode = "acct" }, output, null, null, cancellationToken);
        await target.SendNasStatusAsync(AcctStatusType.AccountingOff, output);
        return (result, null);
    }

    private sealed record Options(string Stack, string Region, string Tenant, int Subscribers, int HotSet, Settings Settings);

    /// <summary>A server under test: its name in the output, and where the load goes (ports, NAS address, secret).</summary>
    private sealed record Server(string Name, Target Endpoint)
    {
        /// <summary>A target of this server naming <paramref name="credentials"/>: a new one, so that each run counts its own order.</summary>
        public Target Naming(List<(string Username, string Password)> credentials) =>
            new(Endpoint.AuthPort, Endpoint.AcctPort, Endpoint.MetricsPort, Endpoint.NasAddress, Endpoint.Secret, credentials);
    }

    /// <summary>One line of the summary: the same load against both servers.</summary>
    private sealed record Row(string Name, RunResult FreeRadius, RunResult Geo)
    {
        public string Format() => string.Create(CultureInfo.InvariantCulture,
            $"  {Name + ":",-12} FreeRADIUS {FreeRadius.RequestsPerSecond,7:N0}/s, Geo {Geo.RequestsPerSecond,7:N0}/s, ratio {Geo.RequestsPerSecond / FreeRadius.RequestsPerSecond,5:0.0}" +
            $"  | p50/p99 FreeRADIUS {FreeRadius.Latency.Milliseconds(0.50):0.00}/{FreeRadius.Latency.Milliseconds(0.99):0.00} ms, " +
            $"Geo {Geo.Latency.Milliseconds(0.50):0.00}/{Geo.Latency.Milliseconds(0.99):0.00} ms{Losses()}");

        private string Losses()
        {
            var lost = FreeRadius.Timeouts + FreeRadius.Rejected + Geo.Timeouts + Geo.Rejected;
            return lost == 0
                ? ""
                : $"  (rejected/timeouts: FreeRADIUS {FreeRadius.Rejected}/{FreeRadius.Timeouts}, Geo {Geo.Rejected}/{Geo.Timeouts})";
        }
    }
}
