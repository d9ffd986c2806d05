using System.Net;
using Geo.Radius;
using Geo.RegionNode.Radius;

namespace Geo.RegionNode.Tests;

public sealed class DuplicateCacheTests
{
    private readonly ManualTime _time = new();

    [Fact]
    public void Begin_FirstTime_New()
    {
        var cache = new DuplicateCache(TimeSpan.FromSeconds(5), _time);
        Assert.Equal(DuplicateState.New, cache.Begin(Key(1), out _));
    }

    [Fact]
    public void Begin_WhileFirstIsInProgress_InProgress()
    {
        var cache = new DuplicateCache(TimeSpan.FromSeconds(5), _time);
        cache.Begin(Key(1), out _);

        Assert.Equal(DuplicateState.InProgress, cache.Begin(Key(1), out var response));
        Assert.Null(response);
    }

    [Fact]
    public void Begin_AfterAnswer_AnsweredWithTheSameBytes()
    {
        var cache = new DuplicateCache(TimeSpan.FromSeconds(5), _time);
        cache.Begin(Key(1), out _);
        cache.Complete(Key(1), [2, 1, 0, 20]);

        Assert.Equal(DuplicateState.Answered, cache.Begin(Key(1), out var response));
        Assert.Equal([2, 1, 0, 20], response);
    }

    [Fact]
    public void Begin_SameIdentifierOtherAuthenticator_New()
    {
        var cache = new DuplicateCache(TimeSpan.FromSeconds(5), _time);
        cache.Begin(Key(1), out _);

        Assert.Equal(DuplicateState.New, cache.Begin(Key(1, authenticator: 99), out _));
    }

    [Fact]
    public void Begin_AfterAbandon_NewAgain()
    {
        var cache = new DuplicateCache(TimeSpan.FromSeconds(5), _time);
        cache.Begin(Key(1), out _);
        cache.Abandon(Key(1));

        Assert.Equal(DuplicateState.New, cache.Begin(Key(1), out _));
    }

    [Fact]
    public void Expire_AfterWindow_ForgetsOnlyWhatExpired()
    {
        var cache = new DuplicateCache(TimeSpan.FromSeconds(5), _time);
        cache.Begin(Key(1), out _);
        _time.Advance(TimeSpan.FromSeconds(3));
        cache.Begin(Key(2), out _);
        _time.Advance(TimeSpan.FromSeconds(2.5));

        cache.Expire();

        Assert.Equal(1, cache.Count);
        Assert.Equal(DuplicateState.New, cache.Begin(Key(1), out _));
        Assert.Equal(DuplicateState.InProgress, cache.Begin(Key(2), out _));
    }

    private static RadiusRequestKey Key(byte identifier, int authenticator = 7) =>
        new(IPAddress.Parse("192.0.2.1"), 50000, RadiusCode.AccessRequest, identifier, (UInt128)authenticator);

    private sealed class ManualTime : TimeProvider
    {
        private long _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _ticks;

        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }
}
