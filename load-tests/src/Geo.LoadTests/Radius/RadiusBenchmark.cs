using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Geo.LoadTests.Measurement;
using Geo.Radius;
using Geo.Radius.Dictionary;
using Geo.Radius.Nas;

namespace Geo.LoadTests.Radius;

/// <summary>
/// <c>geo-load radius</c>: PAP auth or accounting lifecycles against a region node, closed- or open-loop. Open-loop
/// latency counts from the scheduled send time, so a server that falls behind shows it (no coordinated omission).
/// </summary>
internal static class RadiusBenchmark
{
    public static Command Create()
    {
        var stack = new Option<string>("--stack")
        {
            Description = "State folder of a local stack (geoctl up); ports, NAS secret and credentials are read from it (default: $GEO_STATE_DIR, else ./.geo)",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("GEO_STATE_DIR") is { Length: > 0 } dir ? dir : ".geo",
        };
        var region = new Option<string>("--region") { Description = "Region of the local stack to load", DefaultValueFactory = _ => "a" };
        var via = new Option<string?>("--via")
        {
            Description = "Send to this region's node instead (the NAS's backup endpoint), still as --region's NAS with its subscribers: " +
                "with --region's node down, the backup answers from its replica (survivability)",
        };
        var tenant = new Option<string>("--tenant")
        {
            Description = "Demo tenant(s) whose NAS and subscribers are used; several (acme,zenith) load as many shards of the node at once",
            DefaultValueFactory = _ => "acme",
        };
        var mode = new Option<string>("--mode")
        {
            Description = "auth (PAP Access-Request), acct (Start, 3 Interim-Updates, Stop) or reconnect (a BNG's mass re-login: Accounting-On, " +
                "then an Access-Request and an Accounting-Start per subscriber at --rate, default 2,000/s, retransmitting after 1 s, 3 tries) or failover " +
                "(logins at --rate, default 200/s, from a NAS with --region as primary and --via as backup, while --region's node is SIGKILLed after --kill-after)",
            DefaultValueFactory = _ => "auth",
        };
        mode.AcceptOnlyFromAmong("auth", "acct", "reconnect", "failover");
        var subscribers = new Option<int>("--subscribers") { Description = "reconnect: how many subscribers log in again", DefaultValueFactory = _ => 100_000 };
        var concurrency = new Option<int>("--concurrency") { Description = "Closed loop: requests in flight", DefaultValueFactory = _ => 64 };
        var rate = new Option<int>("--rate") { Description = "Open loop: requests per second (overrides --concurrency)" };
        var duration = new Option<double>("--duration") { Description = "Measured seconds", DefaultValueFactory = _ => 10 };
        var warmup = new Option<double>("--warmup") { Description = "Unmeasured seconds first (warms caches and JIT)", DefaultValueFactory = _ => 3 };
        var plans = new Option<string>("--plans")
        {
            Description = "Which demo subscribers: all; flat (home-50: no rating); rated (prepaid-5g: quota, price, balance and ledger on every interim)",
            DefaultValueFactory = _ => "all",
        };
        plans.AcceptOnlyFromAmong("all", "flat", "rated");
        var select = new Option<string>("--select")
        {
            Description = "Which subscriber each request names: cold (every request a different subscriber, in a shuffled order: the cache-miss path " +
                "of a real login) or hot (a repeated set of --hot-set subscribers: the cache-hit path)",
            DefaultValueFactory = _ => "cold",
        };
        select.AcceptOnlyFromAmong("cold", "hot");
        var killAfter = new Option<double>("--kill-after") { Description = "failover: seconds into the run when the primary region's node is killed", DefaultValueFactory = _ => 3 };
        var promoteAfter = new Option<double?>("--promote-after")
        {
            Description = "failover: also run geoctl dr promote <tenant>@<region> --to <via> this many seconds after the kill, and time it (leaves the stack promoted)",
        };
        var hotSet = new Option<int>("--hot-set") { Description = "Size of the repeated set for --select hot, and of the sessions' subscribers in acct mode", DefaultValueFactory = _ => 10_000 };
        var command = new Command("radius", "Load a region node with RADIUS authentication or accounting and print requests/s and latency percentiles")
        {
            stack, region, via, tenant, mode, concurrency, rate, duration, warmup, plans, select, hotSet, subscribers, killAfter, promoteAfter,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            try
            {
                return await RunCommandAsync(result, cancellationToken);
            }
            catch (ArgumentException ex)
            {
                await Console.Error.WriteLineAsync($"geo-load radius: {ex.Message}");
                return 2;
            }
        });
        return command;

        async Task<int> RunCommandAsync(ParseResult result, CancellationToken cancellationToken)
        {
            if (result.GetValue(mode) == "reconnect")
            {
                var nas = Target.FromStack(result.GetValue(stack)!, result.GetValue(region)!, result.GetValue(tenant)!.Split(',')[0], result.GetValue(plans)!, hotSet: null,
                    result.GetValue(via));
                var rateOrDefault = result.GetValue(rate) > 0 ? result.GetValue(rate) : 2_000;
                return await ReconnectScenario.RunAsync(nas, result.GetValue(subscribers), rateOrDefault, Console.Out, cancellationToken);
            }

            if (result.GetValue(mode) == "failover")
            {
                var home = result.GetValue(region)!;
                var backupRegion = result.GetValue(via) ?? (home == "a" ? "b" : "a");
                var firstTenant = result.GetValue(tenant)!.Split(',')[0];
                var primary = Target.FromStack(result.GetValue(stack)!, home, firstTenant, result.GetValue(plans)!, hotSet: null);
                var backup = Target.FromStack(result.GetValue(stack)!, home, firstTenant, result.GetValue(plans)!, hotSet: 0, backupRegion);
                var promotion = result.GetValue(promoteAfter) is { } seconds
                    ? new FailoverScenario.Promotion(result.GetValue(stack)!, $"{firstTenant}@{home}", backupRegion, TimeSpan.FromSeconds(seconds))
                    : null;
                return await FailoverScenario.RunAsync(primary, backup, Path.Combine(result.GetValue(stack)!, "regions", home, "node", "service.pid"),
                    result.GetValue(rate) > 0 ? result.GetValue(rate) : 200, TimeSpan.FromSeconds(result.GetValue(duration)), TimeSpan.FromSeconds(result.GetValue(killAfter)),
                    promotion, Console.Out, cancellationToken);
            }

            var isAuth = result.GetValue(mode) == "auth";
            // Accounting runs sessions of a hot set (each subscriber authenticated once first, for its Class).
            var cold = isAuth && result.GetValue(select) == "cold";
            var targets = result.GetValue(tenant)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(t => Target.FromStack(result.GetValue(stack)!, result.GetValue(region)!, t, result.GetValue(plans)!, cold ? null : result.GetValue(hotSet),
                    result.GetValue(via))).ToList();
            var settings = new Settings(result.GetValue(mode)!, result.GetValue(concurrency), result.GetValue(rate),
                TimeSpan.FromSeconds(result.GetValue(duration)), TimeSpan.FromSeconds(result.GetValue(warmup)), cold);
            return await RunAsync(targets, settings, Console.Out, cancellationToken);
        }
    }

    private static async Task<int> RunAsync(List<Target> targets, Settings settings, TextWriter output, CancellationToken cancellationToken)
    {
        var isAuth = settings.Mode == "auth";
        if (!isAuth)
        {
            // A NAS puts the Class of the session's Access-Accept into each of its Accounting-Requests: authenticate
            // every subscriber once first, as a session would, and keep the Class (a subscriber rejected is left out).
            for (var i = 0; i < targets.Count; i++)
            {
                // The sessions an earlier run left open (one stopped early) would count against the subscribers'
                // Simultaneous-Use: the load NAS starts as a rebooted NAS does, with an Accounting-On.
                await targets[i].SendNasStatusAsync(AcctStatusType.AccountingOn, output);
                targets[i] = await targets[i].WithClassesAsync(new IPEndPoint(IPAddress.Loopback, targets[i].AuthPort), output);
            }
        }

        if (targets.Any(t => t.Credentials.Count == 0))
        {
            // Rated demo subscribers use up their quota and balance run after run; nothing is left to measure with.
            await Console.Error.WriteLineAsync("geo-load radius: no subscriber of the chosen plans was accepted, so there is nothing to load. " +
                "Rated (prepaid) subscribers are rejected once their quota or balance is used up by earlier runs: top them up through the API, " +
                "or start the demo data afresh (geoctl down --purge; geoctl up).");
            return 2;
        }

        if (isAuth)
        {
            output.WriteLine(settings.Cold
                ? $"  subscribers: cold, {targets.Sum(t => t.Credentials.Count):N0} in a new shuffled order: each request names a different subscriber"
                : $"  subscribers: hot, the same {targets.Sum(t => t.Credentials.Count):N0} named over and over");
        }

        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"geo-load radius: {settings.Mode} against 127.0.0.1:{(isAuth ? targets[0].AuthPort : targets[0].AcctPort)} as NAS {string.Join(", ", targets.Select(t => t.NasAddress))}, {(settings.Rate > 0 ? $"open loop at {settings.Rate}/s" : $"closed loop, {settings.Concurrency} in flight")}, {targets.Sum(t => t.Credentials.Count)} subscribers"));

        // One region node serves every target (they are tenants of the same region).
        var node = new NodeLatency(new Uri($"http://127.0.0.1:{targets[0].MetricsPort.ToString(CultureInfo.InvariantCulture)}/metrics"), isAuth ? "access" : "accounting");
        var sources = new NodeCounters(node.Metrics, "geo_profile_lookups_total");
        string nodeSide = "", profileSources = "";
        var result = await MeasureAsync(targets, settings, output,
            async () =>
            {
                await node.BeginAsync();
                await sources.BeginAsync();
            },
            async () =>
            {
                nodeSide = await node.SummaryAsync();
                profileSources = await sources.SummaryAsync();
            },
            cancellationToken);
        if (!isAuth)
        {
            // The sessions in flight when the run stopped stay open otherwise: the load NAS shuts down with an Accounting-Off.
            foreach (var target in targets)
            {
                await target.SendNasStatusAsync(AcctStatusType.AccountingOff, output);
            }
        }

        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {settings.Mode}: {result.RequestsPerSecond:F0} requests/s answered over {result.Elapsed.TotalSeconds:F1} s ({result.Ok} ok, {result.Rejected} rejected, {result.Timeouts} timeouts)"));
        output.WriteLine($"  latency: {result.Latency.Summary()}");
        output.WriteLine($"  node-side latency: {nodeSide}");
        if (isAuth)
        {
            output.WriteLine($"  profiles read from: {profileSources}");
            var named = targets.Sum(t => t.Order.Issued);
            var known = targets.Sum(t => t.Order.Count);
            if (settings.Cold && named > known)
            {
                output.WriteLine($"  note: the run named {named:N0} subscribers of {known:N0}: it went round them again, so the later ones were not cold");
            }
        }

        return 0;
    }

    /// <summary>
    /// Loads the targets (each at 127.0.0.1 on its auth or acct port, from its NAS address) as the settings say: the
    /// warm-up, then the measured window, whose figures it returns. <paramref name="windowBegins"/> and
    /// <paramref name="windowEnds"/> run at the window's edges with the load still running (a caller reads a server's
    /// own metrics there).
    /// </summary>
    internal static async Task<RunResult> MeasureAsync(IReadOnlyList<Target> targets, Settings settings, TextWriter output,
        Func<Task>? windowBegins, Func<Task>? windowEnds, CancellationToken cancellationToken)
    {
        var isAuth = settings.Mode == "auth";
        var inFlight = settings.Rate > 0 ? Math.Max(256, settings.Rate / 50) : settings.Concurrency;
        var perTarget = Math.Max(1, (inFlight / targets.Count + 199) / 200);
        // One lane per tenant: its NAS address (the node tells tenants apart by it) and its sockets.
        var lanes = targets.Select(t =>
        {
            var server = new IPEndPoint(IPAddress.Loopback, isAuth ? t.AuthPort : t.AcctPort);
            return new Lane(t, Enumerable.Range(0, perTarget).Select(_ => new NasRadiusClient(t.NasAddress, server)).ToArray());
        }).ToArray();
        var measuring = new Phase();
        var recorder = new LatencyRecorder();
        var counts = new Counts();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var runId = Guid.NewGuid().ToString("N")[..8];
        var workers = settings.Rate > 0
            ? [OpenLoopAsync(lanes, settings, isAuth, runId, measuring, recorder, counts, stop.Token)]
            : Enumerable.Range(0, settings.Concurrency).Select(w =>
            {
                var lane = lanes[w % lanes.Length];
                return ClosedLoopAsync(lane.Clients[w / lanes.Length % lane.Clients.Length], lane.Target, isAuth, runId, w, measuring, recorder, counts, stop.Token);
            }).ToArray();

        await Task.Delay(settings.Warmup, cancellationToken);
        output.WriteLine($"  warm-up done ({settings.Warmup.TotalSeconds:F0} s); measuring {settings.Duration.TotalSeconds:F0} s");
        if (windowBegins is not null)
        {
            await windowBegins();
        }

        measuring.Begin();
        await Task.Delay(settings.Duration, cancellationToken);
        var elapsed = measuring.End();
        if (windowEnds is not null)
        {
            await windowEnds();
        }

        await stop.CancelAsync();
        await Task.WhenAll(workers);
        foreach (var client in lanes.SelectMany(l => l.Clients))
        {
            await client.DisposeAsync();
        }

        return new RunResult(elapsed, counts.Ok, counts.Rejected, counts.Timeouts, recorder);
    }

    private static async Task ClosedLoopAsync(NasRadiusClient client, Target target, bool isAuth, string runId, int worker, Phase measuring,
        LatencyRecorder recorder, Counts counts, CancellationToken cancellationToken)
    {
        var local = recorder.CreateLocal();
        var buffer = new byte[4096];
        var sequence = 0;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var id = await client.RentIdentifierAsync(cancellationToken);
                var length = Build(buffer, id, target, isAuth, runId, worker, sequence++);
                var started = Stopwatch.GetTimestamp();
                var code = await client.SendAsync(id, buffer.AsMemory(0, length), TimeSpan.FromSeconds(2));
                if (measuring.Active)
                {
                    counts.Record(code);
                    local.Record((long)Stopwatch.GetElapsedTime(started).TotalMicroseconds);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }

        local.Flush();
    }

    private static async Task OpenLoopAsync(Lane[] lanes, Settings settings, bool isAuth, string runId, Phase measuring,
        LatencyRecorder recorder, Counts counts, CancellationToken cancellationToken)
    {
        var local = recorder.CreateLocal();
        var localGate = new Lock();
        var interval = Stopwatch.Frequency / (double)settings.Rate;
        var start = Stopwatch.GetTimestamp();
        var sent = 0L;
        var running = new List<Task>();
        // The pacing loop has a thread of its own that sleeps a millisecond at a time: a timer continuation queued to
        // the thread pool wakes later and less regularly, and every late start counts in the latency (measured from
        // the scheduled time, so that a slow server cannot hide behind a slow sender).
        var paced = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        new Thread(() =>
        {
            try
            {
                Pace();
                paced.TrySetResult();
            }
            catch (Exception ex)
            {
                paced.TrySetException(ex);
            }
        }) { IsBackground = true, Name = "radius-load-pacing" }.Start();
        await paced.Task;
        await Task.WhenAll(running);
        local.Flush();

        void Pace()
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var due = (long)((Stopwatch.GetTimestamp() - start) / interval);
                for (; sent < due; sent++)
                {
                    var scheduled = start + (long)(sent * interval);
                    var lane = lanes[sent % lanes.Length];
                    var client = lane.Clients[sent / lanes.Length % lane.Clients.Length];
                    var target = lane.Target;
                    var sequence = sent;
                    // Started here, not queued to the thread pool: it runs until it waits for its answer, so the request
                    // leaves at its scheduled time instead of whenever a pool thread picks it up.
                    running.Add(SendOneAsync(client, target, sequence, scheduled));
                }

                if (running.Count > 10_000)
                {
                    running.RemoveAll(t => t.IsCompleted);
                }

                Thread.Sleep(1);
            }
        }

        async Task SendOneAsync(NasRadiusClient client, Target target, long sequence, long scheduled)
        {
            var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(4096);
            try
            {
                var id = await client.RentIdentifierAsync(CancellationToken.None);
                var length = Build(buffer, id, target, isAuth, runId, (int)(sequence % 10_000), (int)(sequence / 10_000));
                var code = await client.SendAsync(id, buffer.AsMemory(0, length), TimeSpan.FromSeconds(2));
                if (measuring.Active)
                {
                    counts.Record(code);
                    lock (localGate)
                    {
                        local.Record((long)Stopwatch.GetElapsedTime(scheduled).TotalMicroseconds);
                    }
                }
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>Writes request number <paramref name="sequence"/> of a worker: an Access-Request, or one step of an accounting session.</summary>
    private static int Build(byte[] buffer, byte identifier, Target target, bool isAuth, string runId, int worker, int sequence)
    {
        if (isAuth)
        {
            var (username, password) = target.Credentials[target.Order.Next() % target.Credentials.Count];
            return BuildAccessRequest(buffer, identifier, target, username, password);
        }

        // Sessions of five steps: Start, three Interim-Updates with growing counters, Stop.
        var session = sequence / 5;
        var step = sequence % 5;
        var (user, _) = target.Credentials[(worker * 7919 + session) % target.Credentials.Count];
        var acct = new RadiusPacketWriter(buffer, RadiusCode.AccountingRequest, identifier);
        acct.AddString(RadiusAttributeType.UserName, user);
        if (target.Classes?.GetValueOrDefault(user) is { } sessionClass)
        {
            acct.AddString(RadiusAttributeType.Class, sessionClass);
        }

        acct.AddUInt32(RadiusAttributeType.AcctStatusType, (uint)(step == 0 ? AcctStatusType.Start : step == 4 ? AcctStatusType.Stop : AcctStatusType.InterimUpdate));
        acct.AddString(RadiusAttributeType.AcctSessionId, $"{runId}-{worker}-{session}");
        acct.AddUInt32(RadiusAttributeType.AcctInputOctets, (uint)(step * 1_000_000));
        acct.AddUInt32(RadiusAttributeType.AcctOutputOctets, (uint)(step * 5_000_000));
        acct.AddUInt32(RadiusAttributeType.AcctSessionTime, (uint)(step * 300));
        acct.AddIPv4Address(RadiusAttributeType.NasIpAddress, target.NasAddress);
        return acct.FinishRequest(target.Secret);
    }

    /// <summary>A PAP Access-Request of <paramref name="username"/> from the target's NAS.</summary>
    private static int BuildAccessRequest(byte[] buffer, byte identifier, Target target, string username, string password)
    {
        var authenticator = new byte[16];
        Random.Shared.NextBytes(authenticator);
        var writer = new RadiusPacketWriter(buffer, RadiusCode.AccessRequest, identifier, authenticator);
        writer.AddString(RadiusAttributeType.UserName, username);
        writer.AddUserPassword(System.Text.Encoding.UTF8.GetBytes(password), target.Secret);
        writer.AddIPv4Address(RadiusAttributeType.NasIpAddress, target.NasAddress);
        writer.AddMessageAuthenticator();
        return writer.FinishRequest(target.Secret);
    }

    private sealed record Lane(Target Target, NasRadiusClient[] Clients);

    /// <summary>What a run sends: auth or acct, closed loop (<c>Concurrency</c> in flight) or open loop (<c>Rate</c> > 0), for how long.</summary>
    internal sealed record Settings(string Mode, int Concurrency, int Rate, TimeSpan Duration, TimeSpan Warmup, bool Cold);

    /// <summary>The figures of one measured window: answers by kind, and the client-side latency of each.</summary>
    internal sealed record RunResult(TimeSpan Elapsed, long Ok, long Rejected, long Timeouts, LatencyRecorder Latency)
    {
        /// <summary>Requests answered (accepted or rejected) per second of the window.</summary>
        public double RequestsPerSecond => (Ok + Rejected) / Elapsed.TotalSeconds;
    }

    /// <summary>
    /// A RADIUS server on 127.0.0.1 (its auth and acct ports, and the port of its /metrics: a region node's management listener;
    /// 0 for none), the NAS address the load comes from, its secret and subscribers.
    /// </summary>
    internal sealed record Target(int AuthPort, int AcctPort, int MetricsPort, IPAddress NasAddress, byte[] Secret, List<(string Username, string Password)> Credentials)
    {
        /// <summary>Which subscriber the next Access-Request names: each in turn, so a run names every one once before any twice.</summary>
        public SubscriberOrder Order { get; } = new(Credentials.Count);

        /// <summary>The Class of each subscriber's Access-Accept (accounting mode), null when the accept had none.</summary>
        public IReadOnlyDictionary<string, string?>? Classes { get; init; }

        /// <summary>Authenticates every subscriber once, 64 at a time, keeping the accepted ones with their Class (if the server sent one).</summary>
        public async Task<Target> WithClassesAsync(IPEndPoint authServer, TextWriter output)
        {
            await using var client = new NasRadiusClient(NasAddress, authServer);
            var classes = new System.Collections.Concurrent.ConcurrentDictionary<string, string?>(StringComparer.Ordinal);
            var next = -1;
            await Task.WhenAll(Enumerable.Range(0, 64).Select(async _ =>
            {
                var buffer = new byte[4096];
                int index;
                while ((index = Interlocked.Increment(ref next)) < Credentials.Count)
                {
                    var id = await client.RentIdentifierAsync(CancellationToken.None);
                    var length = BuildAccessRequest(buffer, id, this, Credentials[index].Username, Credentials[index].Password);
                    if (await client.ExchangeAsync(id, buffer.AsMemory(0, length), TimeSpan.FromSeconds(2)) is { } answer &&
                        RadiusPacket.TryRead(answer, out var packet) == RadiusReadStatus.Ok && packet.Code == RadiusCode.AccessAccept)
                    {
                        // FreeRADIUS's stock configuration sends no Class: its sessions go without one.
                        classes[Credentials[index].Username] = packet.TryGetString(RadiusAttributeType.Class, out var value) ? value : null;
                    }
                }
            }));
            output.WriteLine($"  authenticated {Credentials.Count} subscribers first: {classes.Count} accepted, {classes.Count(c => c.Value is not null)} with a Class their sessions carry");
            return new Target(AuthPort, AcctPort, MetricsPort, NasAddress, Secret, Credentials.Where(c => classes.ContainsKey(c.Username)).ToList()) { Classes = classes };
        }

        /// <summary>Sends an Accounting-On or -Off from the NAS (the node closes every session it has open) and waits for the answer.</summary>
        public async Task SendNasStatusAsync(AcctStatusType status, TextWriter output)
        {
            await using var client = new NasRadiusClient(NasAddress, new IPEndPoint(IPAddress.Loopback, AcctPort));
            var buffer = new byte[4096];
            var id = await client.RentIdentifierAsync(CancellationToken.None);
            var length = NasLogin.NasStatus(buffer, id, status, $"geo-load-{Guid.NewGuid():N}", Secret, NasAddress);
            var answer = await client.SendAsync(id, buffer.AsMemory(0, length), TimeSpan.FromSeconds(30));
            var name = status == AcctStatusType.AccountingOn ? "Accounting-On" : "Accounting-Off";
            output.WriteLine(answer == RadiusCode.AccountingResponse
                ? $"  {name} from NAS {NasAddress}: the node closed the sessions it had open"
                : $"  {name} from NAS {NasAddress} got no answer ({answer}); sessions left open may hold subscribers back (Simultaneous-Use)");
        }

        /// <summary>
        /// The demo NAS and subscribers of a tenant in a region of the local stack. <paramref name="hotSet"/>: that many
        /// subscribers, the same ones every run (null: all of them, shuffled afresh each run: the cold path). With
        /// <paramref name="via"/>, the requests go to that region's node (the NAS's backup endpoint) instead.
        /// </summary>
        public static Target FromStack(string stackDirectory, string region, string tenant, string plans, int? hotSet, string? via = null)
        {
            var stateFile = Path.Combine(stackDirectory, "stack.json");
            if (!File.Exists(stateFile))
            {
                throw new ArgumentException($"no local stack in {Path.GetFullPath(stackDirectory)} (no stack.json): start one with './geo up', or name its folder with --stack");
            }

            using var state = JsonDocument.Parse(File.ReadAllText(stateFile));
            var regions = state.RootElement.GetProperty("regions").EnumerateArray().ToList();
            var index = regions.FindIndex(r => r.GetProperty("id").GetString() == region);
            if (index < 0)
            {
                throw new ArgumentException($"region '{region}' is not in {stackDirectory}/stack.json");
            }

            // The demo NAS of a tenant in the i-th region sits at 127.0.<block>.<i+1> (geoctl's demo data).
            var block = tenant == "acme" ? 10 : 20;
            var secret = File.ReadAllText(Path.Combine(stackDirectory, "demo", "nas", $"{tenant}-bng-{region}.secret")).Trim();
            var credentials = File.ReadLines(Path.Combine(stackDirectory, "demo", "subscribers", $"geo_{tenant}_{region}.csv")).Skip(1)
                .Select(line => line.Split(','))
                .Select(parts => (parts[0], parts[1]))
                .Where(c => plans == "all" || (Index(c.Item1) % 10 is var kind && (plans == "flat" ? kind < 5 : kind == 9)))
                .Where(c => Index(c.Item1) % 100 != 99)
                .ToList();
            if (hotSet is { } size)
            {
                credentials = credentials.Take(size).ToList();
            }
            else
            {
                var shuffled = credentials.ToArray();
                Random.Shared.Shuffle(shuffled);
                credentials = [.. shuffled];
            }

            var served = via is null ? index : regions.FindIndex(r => r.GetProperty("id").GetString() == via);
            if (served < 0)
            {
                throw new ArgumentException($"region '{via}' is not in {stackDirectory}/stack.json");
            }

            return new Target(regions[served].GetProperty("radiusAuthPort").GetInt32(), regions[served].GetProperty("radiusAcctPort").GetInt32(),
                regions[served].TryGetProperty("managementPort", out var management) ? management.GetInt32() : 0, IPAddress.Parse($"127.0.{block}.{index + 1}"), System.Text.Encoding.UTF8.GetBytes(secret), credentials);
        }
    }

    /// <summary>A shared position in a list of subscribers, counting how many times the run went round it.</summary>
    internal sealed class SubscriberOrder(int count)
    {
        private long _next = -1;

        /// <summary>Subscribers named so far.</summary>
        public long Issued => Interlocked.Read(ref _next) + 1;

        public int Count => count;

        public int Next() => (int)(Interlocked.Increment(ref _next) % count);
    }

    /// <summary>The number at the end of a demo username; its last digit says the plan (geoctl's demo data).</summary>
    private static int Index(string username) => int.Parse(username.AsSpan(username.LastIndexOf('-') + 1), CultureInfo.InvariantCulture);

    private sealed class Phase
    {
        private long _started;
        private volatile bool _active;

        public bool Active => _active;

        public void Begin()
        {
            _started = Stopwatch.GetTimestamp();
            _active = true;
        }

        public TimeSpan End()
        {
            _active = false;
            return Stopwatch.GetElapsedTime(_started);
        }
    }

    private sealed class Counts
    {
        private long _ok;
        private long _rejected;
        private long _timeouts;

        public long Ok => Interlocked.Read(ref _ok);

        public long Rejected => Interlocked.Read(ref _rejected);

        public long Timeouts => Interlocked.Read(ref _timeouts);

        public void Record(RadiusCode code)
        {
            switch (code)
            {
                case RadiusCode.AccessAccept or RadiusCode.AccountingResponse:
                    Interlocked.Increment(ref _ok);
                    break;
                case RadiusCode.AccessReject:
                    Interlocked.Increment(ref _rejected);
                    break;
                default:
                    Interlocked.Increment(ref _timeouts);
                    break;
            }
        }
    }
}
