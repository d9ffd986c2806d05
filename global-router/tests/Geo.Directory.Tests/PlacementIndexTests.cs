using System.Text;
using Geo.Directory.Placement;

namespace Geo.Directory.Tests;

public sealed class PlacementIndexTests
{
    [Fact]
    public void TryGetHomeRegion_AfterSet_ReturnsRegion()
    {
        var index = new PlacementIndex();
        index.Set("acme", "alice", "a");
        index.Set("acme", "bob", "b");
        index.Set("zenith", "alice", "b");

        Assert.True(index.TryGetHomeRegion("acme", "alice", out var alice));
        Assert.True(index.TryGetHomeRegion("acme", "bob", out var bob));
        Assert.True(index.TryGetHomeRegion("zenith", "alice", out var otherAlice));
        Assert.Equal(("a", "b", "b"), (alice, bob, otherAlice));
        Assert.Equal(3, index.Count);
    }

    [Fact]
    public void TryGetHomeRegion_UnknownTenantOrUser_ReturnsFalse()
    {
        var index = new PlacementIndex();
        index.Set("acme", "alice", "a");

        Assert.False(index.TryGetHomeRegion("zenith", "alice", out _));
        Assert.False(index.TryGetHomeRegion("acme", "alic", out _));
        Assert.False(index.TryGetHomeRegion("acme", "alicee", out _));
    }

    [Fact]
    public void Set_ExistingUsername_MovesWithoutCountingTwice()
    {
        var index = new PlacementIndex();
        index.Set("acme", "alice", "a");

        index.Set("acme", "alice", "b");

        Assert.True(index.TryGetHomeRegion("acme", "alice", out var region));
        Assert.Equal("b", region);
        Assert.Equal(1, index.Count);
    }

    [Fact]
    public void Remove_Placed_GoneAndOthersKept()
    {
        var index = new PlacementIndex();
        for (var i = 0; i < 100; i++)
        {
            index.Set("acme", $"user{i}", "a");
        }

        Assert.True(index.Remove("acme", "user42"));
        Assert.False(index.Remove("acme", "user42"));

        Assert.False(index.TryGetHomeRegion("acme", "user42", out _));
        Assert.True(index.TryGetHomeRegion("acme", "user43", out _));
        Assert.Equal(99, index.Count);
    }

    [Fact]
    public void TryGetHomeRegionUtf8_MultiByteAndLongUsernames_Found()
    {
        var index = new PlacementIndex();
        var long1 = new string('x', 200) + "@example.net";
        var unicode = "jürgen.größe@例え.jp";
        index.Set("acme", long1, "a");
        index.Set("acme", unicode, "b");

        Assert.True(index.TryGetHomeRegionUtf8("acme", Encoding.UTF8.GetBytes(long1), out var first));
        Assert.True(index.TryGetHomeRegion("acme", unicode, out var second));
        Assert.Equal(("a", "b"), (first, second));
    }

    [Fact]
    public void Set_EmptyOrOversizedUsername_Refused()
    {
        var index = new PlacementIndex();

        Assert.Throws<ArgumentException>(() => index.Set("acme", "", "a"));
        Assert.Throws<ArgumentException>(() => index.Set("acme", new string('€', 400), "a"));
        Assert.False(index.TryGetHomeRegion("acme", new string('€', 400), out _));
    }

    [Fact]
    public void RandomOperations_AgreeWithDictionaryModel()
    {
        // Seeded: a failure reproduces. Inserts, moves and removes across three tenants and four regions,
        // enough to force many resizes, tombstone rebuilds and new arena chunks.
        var random = new Random(20240601);
        var index = new PlacementIndex();
        var model = new Dictionary<(string, string), string>();
        string[] tenants = ["acme", "zenith", "omega"];
        string[] regions = ["a", "b", "eu-west", "us-east"];
        for (var step = 0; step < 200_000; step++)
        {
            var tenant = tenants[random.Next(tenants.Length)];
            var username = $"u{random.Next(30_000)}@{tenant}.example";
            if (random.Next(5) == 0)
            {
                Assert.Equal(model.Remove((tenant, username)), index.Remove(tenant, username));
            }
            else
            {
                var region = regions[random.Next(regions.Length)];
                model[(tenant, username)] = region;
                index.Set(tenant, username, region);
            }
        }

        Assert.Equal(model.Count, index.Count);
        foreach (var ((tenant, username), region) in model)
        {
            Assert.True(index.TryGetHomeRegion(tenant, username, out var found));
            Assert.Equal(region, found);
        }

        for (var i = 30_000; i < 31_000; i++)
        {
            Assert.False(index.TryGetHomeRegion("acme", $"u{i}@acme.example", out _));
        }
    }

    [Fact]
    public async Task TryGetHomeRegion_DuringConcurrentWrites_NeverWrongAndNeverLosesStableKeys()
    {
        var index = new PlacementIndex();
        for (var i = 0; i < 10_000; i++)
        {
            index.Set("acme", $"stable{i}", "a");
        }

        using var done = new CancellationTokenSource();
        var writer = Task.Run(() =>
        {
            // Growth forces slot-array and arena replacement while readers run.
            for (var i = 0; i < 300_000; i++)
            {
                index.Set("acme", $"new{i}", "b");
            }

            done.Cancel();
        });

        var readers = Enumerable.Range(0, 2).Select(r => Task.Run(() =>
        {
            var errors = 0;
            var rounds = 0;
            while (!done.IsCancellationRequested || rounds == 0)
            {
                for (var i = 0; i < 10_000; i += 7)
                {
                    if (!index.TryGetHomeRegion("acme", $"stable{i}", out var region) || region != "a")
                    {
                        errors++;
                    }
                }

                rounds++;
            }

            return errors;
        })).ToArray();

        await writer;
        var errors = await Task.WhenAll(readers);

        Assert.All(errors, e => Assert.Equal(0, e));
        Assert.Equal(310_000, index.Count);
    }
}
