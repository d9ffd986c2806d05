using Geo.Rating;
using Geo.RegionNode.Accounting;
using Geo.RegionNode.Shards;
using Npgsql;

namespace Geo.RegionNode.Tests;

public sealed class CommittedStateTests : IAsyncDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan PlanAge = TimeSpan.FromSeconds(60);

    private static readonly Plan Prepaid = Plan("prepaid", new Tariff(5_000_000_000, null, 2000, 0, false, ExhaustionAction.Disconnect));
    private static readonly Plan Flat = Plan("flat", new Tariff(null, null, 0, 0, false, ExhaustionAction.Disconnect));

    private readonly ShardHandle _shard = new("acme", "a", "geo_acme_a", 1, NpgsqlDataSource.Create("Host=unused.invalid"))
    {
        Plans = new Dictionary<string, Plan> { [Prepaid.Id] = Prepaid, [Flat.Id] = Flat },
    };

    [Fact]
    public void RecentMap_KeepsWhatWasUsedRecentlyAndDropsTheOldestGeneration()
    {
        var map = new CommittedState.RecentMap<string, int>(4);
        map.Set("a", 1);
        map.Set("b", 2);
        Assert.True(map.TryGet("a", out _));
        map.Set("c", 3);
        map.Set("d", 4);

        Assert.False(map.TryGet("b", out _));
        Assert.True(map.TryGet("a", out var a));
        Assert.Equal(1, a);
        Assert.True(map.Values.Count() <= 4);

        // Moving "a" forward filled the current generation again: the one holding only "c" was dropped, and its
        // table (reused for the new current generation) holds nothing of it.
        map.Set("e", 5);
        Assert.False(map.TryGet("c", out _));
        Assert.Equal([1, 4, 5], map.Values.Order());
    }

    [Fact]
    public void RecentMap_WithoutCapacity_RemembersNothing()
    {
        var map = new CommittedState.RecentMap<string, int>(0);
        map.Set("a", 1);

        Assert.False(map.TryGet("a", out _));
    }

    [Fact]
    public void Session_RememberedAtTheWritingTransactionsVersion_GivenOutAsACopy()
    {
        var state = new CommittedState(16, PlanAge);
        state.Prepare(_shard);
        var session = Session(1000);
        session.Dirty = true;
        state.Remember([session], 42, [], []);

        Assert.True(state.TryGetSession(("nas-1", "s-1"), out var copy));
        Assert.Equal(42u, copy.ReadVersion);
        Assert.False(copy.Dirty);
        Assert.False(copy.New);
        copy.Counters = new Counters(9999, 0, 0, 0, 0);
        Assert.True(state.TryGetSession(("nas-1", "s-1"), out var again));
        Assert.Equal(1000, again.Counters.InputOctets);

        // A later commit that only read the session keeps the version it read.
        state.Remember([Session(2000)], 43, [], []);
        Assert.True(state.TryGetSession(("nas-1", "s-1"), out var read));
        Assert.Equal(2000, read.Counters.InputOctets);
        Assert.Equal(7u, read.ReadVersion);
    }

    [Fact]
    public void Session_Closed_IsForgotten()
    {
        var state = new CommittedState(16, PlanAge);
        state.Prepare(_shard);
        state.Remember([Session(1000)], 42, [], []);
        var stopped = Session(2000);
        stopped.Open = false;
        stopped.Dirty = true;

        state.Remember([stopped], 43, [], []);

        Assert.False(state.TryGetSession(("nas-1", "s-1"), out _));
    }

    [Fact]
    public void Account_WithRoomInItsBucketAndMoneyLeft_IsReused()
    {
        var state = Remembering(Account(used: 1_000, balance: 5_000));

        var account = state.GetAccount(Subscriber, _shard, T0.AddSeconds(10));

        Assert.NotNull(account);
        Assert.True(account.Remembered);
        Assert.Equal(1_000, account.Data!.Used);
        Assert.Equal(5_000, account.ReadBalance);
    }

    [Theory]
    [InlineData("exhausted bucket")]
    [InlineData("empty balance")]
    [InlineData("period ended")]
    [InlineData("plan read too long ago")]
    [InlineData("plan no longer rated")]
    [InlineData("profile changed")]
    [InlineData("epoch changed")]
    public void Account_ThatChargingCouldMisjudge_IsReadAgain(string why)
    {
        var state = Remembering(Account(used: why == "exhausted bucket" ? 5_000_000_000 : 1_000, balance: why == "empty balance" ? 0 : 5_000));
        var now = T0.AddSeconds(10);
        switch (why)
        {
            case "period ended":
                now = T0.AddDays(31);
                break;
            case "plan read too long ago":
                now = T0 + PlanAge;
                break;
            case "plan no longer rated":
                _shard.Plans = new Dictionary<string, Plan> { [Prepaid.Id] = Flat with { Id = Prepaid.Id } };
                break;
            case "profile changed":
                state.Forget("alice");
                break;
            case "epoch changed":
                _shard.Epoch = 2;
                break;
        }

        state.Prepare(_shard);
        Assert.Null(state.GetAccount(Subscriber, _shard, now));
    }

    [Fact]
    public void Account_OnAFlatPlan_IsReusedUntilThePlanChanges()
    {
        var state = Remembering(new ChargingAccount(Flat, T0) { SubscriberId = Subscriber, Username = "alice", LoadedAt = T0 });
        Assert.False(state.GetAccount(Subscriber, _shard, T0.AddSeconds(1))!.Plan.IsRated);

        _shard.Plans = new Dictionary<string, Plan> { [Flat.Id] = Prepaid with { Id = Flat.Id } };
        Assert.Null(state.GetAccount(Subscriber, _shard, T0.AddSeconds(1)));
    }

    [Fact]
    public void Account_Charged_RememberedAsWritten()
    {
        var state = Remembering(Account(used: 1_000, balance: 5_000));
        var charging = state.GetAccount(Subscriber, _shard, T0.AddSeconds(1))!;
        charging.Data!.Consume(2_000);
        charging.Balance -= 4;
        charging.BalanceChanged = true;

        state.Remember([], 50, [], [charging]);

        var next = state.GetAccount(Subscriber, _shard, T0.AddSeconds(2))!;
        Assert.Equal(3_000, next.Data!.Used);
        Assert.Equal(3_000, next.Data.ReadUsed);
        Assert.False(next.Data.Changed);
        Assert.Equal(4_996, next.Balance);
        Assert.Equal(4_996, next.ReadBalance);
        Assert.False(next.BalanceChanged);
    }

    public ValueTask DisposeAsync() => _shard.DisposeAsync();

    private static readonly Guid Subscriber = Guid.CreateVersion7();

    private CommittedState Remembering(ChargingAccount account)
    {
        var state = new CommittedState(16, PlanAge);
        state.Prepare(_shard);
        state.Remember([], 1, [account], []);
        return state;
    }

    private static ChargingAccount Account(long used, long balance) => new(Prepaid, T0)
    {
        SubscriberId = Subscriber,
        Username = "alice",
        LoadedAt = T0,
        Data = new BucketState(Guid.CreateVersion7(), 5_000_000_000, used, null, null, T0.AddDays(30)),
        Balance = balance,
        ReadBalance = balance,
    };

    private static SessionState Session(long inputOctets) => new()
    {
        Id = Guid.CreateVersion7(), NasId = "nas-1", AcctSessionId = "s-1", Username = "alice", ReadVersion = 7,
        Counters = new Counters(inputOctets, 0, 0, 0, 60),
    };

    private static Plan Plan(string id, Tariff tariff) => new(id, null, null, null, 300, 1, null, tariff, null, null, null, null);
}
