using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using Geo.Directory.Nas;
using Geo.Directory.Regions;
using Geo.Directory.Shards;
using Geo.Directory.Stores.Memory;
using Geo.Directory.Tenants;
using Geo.Router;

namespace Geo.LoadTests.Router;

/// <summary>
/// <c>geo-load router latency</c>: p50/p99 of one GET straight to a region vs. through the router (interleaved, so both
/// see the same machine), then requests/s through the router. <c>geo-load router placements</c>: placement index memory
/// and lookup time for N subscribers.
/// </summary>
internal static class RouterBenchmark
{
    public static Command Create()
    {
        var requests = new Option<int>("--requests") { Description = "Measured sequential requests per path (direct and via the router)", DefaultValueFactory = _ => 20_000 };
        var warmup = new Option<int>("--warmup") { Description = "Unmeasured requests per path first (JIT, connection pools)", DefaultValueFactory = _ => 3_000 };
        var concurrency = new Option<int>("--concurrency") { Description = "Requests in flight in the throughput phase", DefaultValueFactory = _ => 16 };
        var duration = new Option<double>("--duration") { Description = "Seconds of the throughput phase (each path)", DefaultValueFactory = _ => 5 };
        var placements = new Option<int>("--placements") { Description = "Subscribers placed in the directory the router looks up", DefaultValueFactory = _ => 100_000 };
        var latency = new Command("latency", "Router-added latency p50/p99 against a direct call, and requests/s through the router")
        {
            requests, warmup, concurrency, duration, placements,
        };
        latency.SetAction(async (result, cancellationToken) =>
        {
            await RunLatencyAsync(result.GetValue(requests), result.GetValue(warmup), result.GetValue(concurrency),
                TimeSpan.FromSeconds(result.GetValue(duration)), result.GetValue(placements), Console.Out, cancellationToken);
            return 0;
        });

        var count = new Option<int>("--count") { Description = "Placements to hold", DefaultValueFactory = _ => 1_000_000 };
        var memory = new Command("placements", "Memory per placement and lookup time of the placement index") { count };
        memory.SetAction(result =>
        {
            PlacementMemory.Run(result.GetValue(count), Console.Out);
            return 0;
        });

        return new Command("router", "geo-router benchmarks: added latency and throughput, placement memory") { latency, memory };
    }

    private static async Task RunLatencyAsync(int requests, int warmup, int concurrency, TimeSpan duration, int placements, TextWriter output, CancellationToken cancellationToken)
    {
        await using var region = await StandInRegion.StartAsync();
        await using var store = new InMemoryDirectoryStore();
        await store.UpsertRegionAsync(new Region("a", "Region a", region.Url, "127.0.0.1", 1812, 1813), cancellationToken);
        await store.UpsertTenantAsync(new Tenant("acme", "Acme"), cancellationToken);
        // The router checks the tenant's key before routing: the measured path includes that check.
        const string apiKey = "geo_acme_benchmark-key-0123456789abcdef";
        await store.SetTenantApiKeyHashAsync("acme", System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(apiKey)), onlyIfUnset: false, cancellationToken);
        await store.CreateShardAsync(new Shard(new ShardKey("acme", "a"), "a", null, 1, ShardState.Active, null, "geo_acme_a"), cancellationToken);
        await store.UpsertNasAsync(new NasDevice("acme", "bng-a", IPAddress.Parse("127.0.10.1"), "a", null), cancellationToken);
        for (var i = 0; i < placements; i++)
        {
            await store.TryAddPlacementAsync("acme", Username(i), "a", cancellationToken);
        }

        await using var router = RouterServer.Create(["--Logging:LogLevel:Default=Warning", "--urls=http://127.0.0.1:0"], store: store);
        await router.StartAsync(cancellationToken);
        using var handler = new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = int.MaxValue, PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5) };
        using var client = new HttpClient(handler);
        client.DefaultRequestHeaders.Authorization = new("Bearer", apiKey);
        var direct = region.Url.AbsoluteUri.TrimEnd('/');
        var routed = router.Url.AbsoluteUri.TrimEnd('/');
        output.WriteLine(Invariant($"geo-load router latency: stand-in region {direct}, router {routed}, {placements} placements; {Environment.ProcessorCount} cores, load average {LoadAverage()}"));
        var collections = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));

        // Interleaved: a burst of background load on the machine hits both paths alike.
        var directSamples = new long[requests];
        var routedSamples = new long[requests];
        for (var i = -warmup; i < requests; i++)
        {
            var path = $"/tenants/acme/subscribers/{Username(Math.Abs(i) % Math.Max(1, placements))}";
            var d = await TimeAsync(client, direct + path, cancellationToken);
            var r = await TimeAsync(client, routed + path, cancellationToken);
            if (i >= 0)
            {
                directSamples[i] = d;
                routedSamples[i] = r;
            }
        }

        Array.Sort(directSamples);
        Array.Sort(routedSamples);
        var added50 = Quantile(routedSamples, 0.50) - Quantile(directSamples, 0.50);
        var added99 = Quantile(routedSamples, 0.99) - Quantile(directSamples, 0.99);
        output.WriteLine(Invariant($"sequential, {requests} requests per path:"));
        output.WriteLine(Invariant($"  direct  p50 {Ms(Quantile(directSamples, 0.50))} ms  p99 {Ms(Quantile(directSamples, 0.99))} ms  p99.9 {Ms(Quantile(directSamples, 0.999))} ms"));
        output.WriteLine(Invariant($"  router  p50 {Ms(Quantile(routedSamples, 0.50))} ms  p99 {Ms(Quantile(routedSamples, 0.99))} ms  p99.9 {Ms(Quantile(routedSamples, 0.999))} ms"));
        output.WriteLine(Invariant($"  added   p50 {Ms(added50)} ms  p99 {Ms(added99)} ms  (target: p99 added < 1 ms: {(added99 < Stopwatch.Frequency / 1000 ? "met" : "NOT met")})"));
        output.WriteLine(Invariant($"  garbage collections meanwhile (client, router and region share this process): gen0 {GC.CollectionCount(0) - collections.Item1}, gen1 {GC.CollectionCount(1) - collections.Item2}, gen2 {GC.CollectionCount(2) - collections.Item3}"));

        var directRate = await ThroughputAsync(client, direct, concurrency, duration, placements, cancellationToken);
        var routedRate = await ThroughputAsync(client, routed, concurrency, duration, placements, cancellationToken);
        output.WriteLine(Invariant($"throughput, {concurrency} in flight, {duration.TotalSeconds:F0} s each: direct {directRate:F0} req/s, via router {routedRate:F0} req/s"));
        output.WriteLine(Invariant($"load average at the end: {LoadAverage()} (other work on the machine inflates the tail: compare p99 on an idle machine)"));
    }

    private static async Task<long> TimeAsync(HttpClient client, string url, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        using var response = await client.GetAsync(url, cancellationToken);
        await response.Content.ReadAsByteArrayAsync(cancellationToken);
        var elapsed = Stopwatch.GetTimestamp() - started;
        return response.StatusCode == HttpStatusCode.OK ? elapsed : throw new InvalidOperationException($"{url} answered {(int)response.StatusCode}");
    }

    private static async Task<double> ThroughputAsync(HttpClient client, string baseUrl, int concurrency, TimeSpan duration, int placements, CancellationToken cancellationToken)
    {
        long completed = 0;
        var clock = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, concurrency).Select(w => Task.Run(async () =>
        {
            for (var i = w; clock.Elapsed < duration; i += concurrency)
            {
                await TimeAsync(client, $"{baseUrl}/tenants/acme/subscribers/{Username(i % Math.Max(1, placements))}", cancellationToken);
                Interlocked.Increment(ref completed);
            }
        }, cancellationToken));
        await Task.WhenAll(workers);
        return completed / clock.Elapsed.TotalSeconds;
    }

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";

    internal static string Username(int i) => $"sub{i.ToString("D7", CultureInfo.InvariantCulture)}@acme.example";

    private static long Quantile(long[] sorted, double quantile) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(quantile * sorted.Length) - 1)];

    private static string Ms(long ticks) => (ticks * 1000.0 / Stopwatch.Frequency).ToString("F3", CultureInfo.InvariantCulture);

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
