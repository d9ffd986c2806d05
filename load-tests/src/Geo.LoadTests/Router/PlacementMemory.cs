using System.Diagnostics;
using System.Globalization;
using Geo.Directory.Placement;

namespace Geo.LoadTests.Router;

/// <summary>Memory of the placement index for N subscribers (GC heap after a full collection), against a plain dictionary, and lookup time.</summary>
internal static class PlacementMemory
{
    public static void Run(int count, TextWriter output)
    {
        // Two tenants, two regions, realistic usernames; built before measuring so that only the index is counted.
        var usernames = Enumerable.Range(0, count).Select(RouterBenchmark.Username).ToArray();
        var before = Heap();
        var index = new PlacementIndex();
        var build = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            index.Set(i % 2 == 0 ? "acme" : "zenith", usernames[i], i % 3 == 0 ? "b" : "a");
        }

        build.Stop();
        var indexBytes = Heap() - before;

        var lookups = Stopwatch.StartNew();
        var found = 0;
        const int Rounds = 5;
        for (var round = 0; round < Rounds; round++)
        {
            for (var i = 0; i < count; i++)
            {
                // A stride through the set: lookups miss the CPU caches as real traffic would.
                var j = (int)((long)i * 7919 % count);
                if (index.TryGetHomeRegion(j % 2 == 0 ? "acme" : "zenith", usernames[j], out _))
                {
                    found++;
                }
            }
        }

        lookups.Stop();
        GC.KeepAlive(index);
        var allocated = index.AllocatedBytes;
        index = null;

        // The obvious design for comparison: one dictionary entry per subscriber, keyed by (tenant, username).
        before = Heap();
        var dictionary = new Dictionary<(string, string), string>(count);
        for (var i = 0; i < count; i++)
        {
            dictionary[(i % 2 == 0 ? "acme" : "zenith", new string(usernames[i]))] = i % 3 == 0 ? "b" : "a";
        }

        var dictionaryBytes = Heap() - before;
        var dictionaryLookups = Stopwatch.StartNew();
        var dictionaryFound = 0;
        for (var round = 0; round < Rounds; round++)
        {
            for (var i = 0; i < count; i++)
            {
                var j = (int)((long)i * 7919 % count);
                if (dictionary.ContainsKey((j % 2 == 0 ? "acme" : "zenith", usernames[j])))
                {
                    dictionaryFound++;
                }
            }
        }

        dictionaryLookups.Stop();
        GC.KeepAlive(dictionary);

        output.WriteLine(Invariant($"geo-load router placements: {count} placements (2 tenants, 2 regions, usernames like {usernames[0]})"));
        output.WriteLine(Invariant($"  placement index: {indexBytes / 1048576.0:F1} MiB on the GC heap ({(double)indexBytes / count:F1} bytes per placement; tables and arenas {allocated / 1048576.0:F1} MiB), built in {build.Elapsed.TotalMilliseconds:F0} ms"));
        output.WriteLine(Invariant($"  Dictionary<(tenant, username), region> with its own strings: {dictionaryBytes / 1048576.0:F1} MiB ({(double)dictionaryBytes / count:F1} bytes per placement)"));
        var perIndexLookup = lookups.Elapsed.TotalNanoseconds / (Rounds * (double)count);
        var perDictionaryLookup = dictionaryLookups.Elapsed.TotalNanoseconds / (Rounds * (double)count);
        output.WriteLine(Invariant($"  lookups, strided over the whole set (mostly cache misses): index {perIndexLookup:F0} ns each ({found} found), dictionary {perDictionaryLookup:F0} ns each ({dictionaryFound} found)"));
    }

    private static long Heap()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
