using Geo.RegionNode.Caching;
using Npgsql;

namespace Geo.RegionNode.Tests;

public sealed class BatchedLookupTests
{
    [Fact]
    public async Task GetAsync_KeysAskedWhileAReadRuns_AreReadTogetherInTheNextBatch()
    {
        var batches = new List<string[]>();
        var firstRead = new TaskCompletionSource();
        var release = new TaskCompletionSource();
        var lookup = new BatchedLookup<string, string>(async keys =>
        {
            lock (batches)
            {
                batches.Add([.. keys]);
            }

            if (batches.Count == 1)
            {
                firstRead.SetResult();
                await release.Task;
            }

            return keys.ToDictionary(k => k, k => k.ToUpperInvariant());
        }, maxBatch: 100, maxConcurrent: 1);

        var first = lookup.GetAsync("a", out _);
        await firstRead.Task;
        var waiting = Enumerable.Range(0, 50).Select(i => lookup.GetAsync($"k{i}", out _)).ToArray();
        release.SetResult();

        Assert.Equal("A", await first);
        var values = await Task.WhenAll(waiting);
        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"K{i}"), values);
        Assert.Equal(2, batches.Count);
        Assert.Equal(50, batches[1].Length);
    }

    [Fact]
    public async Task GetAsync_SameKeyWhileItIsRead_SharesTheRead()
    {
        var reads = 0;
        var release = new TaskCompletionSource();
        var lookup = new BatchedLookup<string, string>(async keys =>
        {
            Interlocked.Add(ref reads, keys.Count);
            await release.Task;
            return keys.ToDictionary(k => k, k => "v");
        });

        var first = lookup.GetAsync("x", out var firstJoined);
        var second = lookup.GetAsync("x", out var secondJoined);
        release.SetResult();

        Assert.Equal("v", await first);
        Assert.Equal("v", await second);
        Assert.False(firstJoined);
        Assert.True(secondJoined);
        Assert.Equal(1, reads);
    }

    [Fact]
    public async Task GetAsync_KeyMissingFromTheResult_IsNull()
    {
        var lookup = new BatchedLookup<string, string>(keys => Task.FromResult<IReadOnlyDictionary<string, string>>(new Dictionary<string, string>()));

        Assert.Null(await lookup.GetAsync("nobody", out _));
    }

    [Fact]
    public async Task GetAsync_OneKeyThePostgresReadRefuses_FailsAlone_TheRestOfItsBatchAnswered()
    {
        var release = new TaskCompletionSource();
        var lookup = new BatchedLookup<string, string>(async keys =>
        {
            await release.Task;
            // As PostgreSQL does for a value it cannot take (a NUL in text): the whole statement fails.
            return keys.Contains("bad\0name")
                ? throw new PostgresException("invalid byte sequence for encoding \"UTF8\": 0x00", "ERROR", "ERROR", "22021")
                : keys.ToDictionary(k => k, k => $"ok {k}");
        }, maxConcurrent: 1);

        var blocker = lookup.GetAsync("first", out _);
        var batch = new[] { "a", "bad\0name", "b", "c" }.Select(k => lookup.GetAsync(k, out _)).ToArray();
        release.SetResult();
        await blocker;

        Assert.Equal("ok a", await batch[0]);
        await Assert.ThrowsAsync<PostgresException>(() => batch[1]);
        Assert.Equal("ok b", await batch[2]);
        Assert.Equal("ok c", await batch[3]);
    }

    [Fact]
    public async Task GetAsync_DatabaseUnreachable_FailsTheBatchAtOnce_WithoutOneReadPerKey()
    {
        var reads = 0;
        var release = new TaskCompletionSource();
        var lookup = new BatchedLookup<string, string>(async keys =>
        {
            Interlocked.Increment(ref reads);
            await release.Task;
            throw new TimeoutException("no answer");
        }, maxConcurrent: 1);

        var first = lookup.GetAsync("first", out _);
        var batch = Enumerable.Range(0, 20).Select(i => lookup.GetAsync($"k{i}", out _)).ToArray();
        release.SetResult();

        await Assert.ThrowsAsync<TimeoutException>(() => first);
        foreach (var waiting in batch)
        {
            await Assert.ThrowsAsync<TimeoutException>(() => waiting);
        }

        Assert.Equal(2, reads);
    }

    [Fact]
    public async Task GetAsync_ManyCallers_NeverMoreReadsAtOnceThanAllowed()
    {
        var running = 0;
        var most = 0;
        var lookup = new BatchedLookup<int, int>(async keys =>
        {
            var now = Interlocked.Increment(ref running);
            InterlockedMax(ref most, now);
            await Task.Yield();
            Interlocked.Decrement(ref running);
            return keys.ToDictionary(k => k, k => k * 2);
        }, maxBatch: 8, maxConcurrent: 3);

        var results = await Task.WhenAll(Enumerable.Range(0, 2_000).Select(i => Task.Run(() => lookup.GetAsync(i, out _))));

        Assert.Equal(Enumerable.Range(0, 2_000).Select(i => i * 2).ToArray(), results.Select(r => (int)r!).ToArray());
        Assert.InRange(most, 1, 3);
        // A runner gives its slot back just after it answered its last batch's callers: a moment after they resume.
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (lookup.Running != 0 && deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Yield();
        }

        Assert.Equal(0, lookup.Running);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }
}
