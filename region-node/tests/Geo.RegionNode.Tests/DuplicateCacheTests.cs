using System.Net;
using Geo.Radius;
using Geo.RegionNode.Transport;
using Microsoft.Extensions.Time.Testing;

namespace Geo.RegionNode.Tests;

public sealed class DuplicateCacheTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly byte[] _answer = new byte[4096];

    [Fact]
    public void Begin_FirstTime_New()
    {
        var cache = new DuplicateCache(TimeSpan.FromSeconds(5), _time, capacity: 64);
        Assert.Equal(DuplicateState.New, cache.Begin(Key(1), _answer, out _));
    }

    [Fact]
    public void Begin_WhileFirstIsInProgress_InProgress()
    {
        var cache = new DuplicateCache(TimeSpan.FromSeconds(5), _time, capacity: 64);
        cache.Begin(Key(1), _answer, out _);

        Assert.Equal(DuplicateState.InProgress, cache.Begin(Key(1), _answer, out var length));
        Assert.Equal(0, length);
    }

    [Fact]
    public void Begin_AfterAnswer_AnsweredWithTheSameBytes()
    {
        var cache = new DuplicateCache(TimeSpan.FromSeconds(5), _time, capacity: 64);
        cache.Begin(Key(1), _answer, out _);
        cache.Complete(Key(1), [2, 1, 0, 20]);

        Assert.Equal(DuplicateState.Answered, cache.Begin(Key(1), _answer, out var length));
        Assert.Equal([2, 1, 0, 20], _answer[..length]);
    }

    [Fact]
    public void Begin_SameIdentifierOtherAuthenticator_New()
    {
        var cache = new DuplicateCache(TimeSpan.FromSeconds(5), _time, capacity: 64);
        cache.Begin(Key(1), _answer, out _);

        Assert.Equal(DuplicateState.New, cache.Begin(Key(1, authenticator: 99), _answer, out _));
    }

    [Fact]
    public void Begin_AfterAbandon_NewAgain()
    {
        var cache = new DuplicateCache(TimeSpan.FromSeconds(5), _time, capacity: 64);
        cache.Begin(Key(1), _answer, out _);
        cache.Abandon(Key(1));

        Assert.Equal(DuplicateState.New, cache.Begin(Key(1), _answer, out _));
    }

    [Fact]
    public void Expire_AfterWindow_ForgetsOnlyWhatExpired()
    {
        var cache = new DuplicateCache(TimeSpan.FromSeconds(5), _time, capacity: 64);
        cache.Begin(Key(1), _answer, out _);
        _time.Advance(TimeSpan.FromSeconds(3));
        cache.Begin(Key(2), _answer, out _);
        _time.Advance(TimeSpan.FromSeconds(2.5));

        cache.Expire();

        Assert.Equal(1, cache.Count);
        Assert.Equal(DuplicateState.New, cache.Begin(Key(1), _answer, out _));
        Assert.Equal(DuplicateState.InProgress, cache.Begin(Key(2), _answer, out _));
    }

    [Fact]
    public void Begin_RingFull_OldestForgottenEarlyAndCounted()
    {
        var cache = new DuplicateCache(TimeSpan.FromSeconds(5), _time, capacity: 16);
        for (byte id = 0; id < 17; id++)
        {
            Assert.Equal(DuplicateState.New, cache.Begin(Key(id), _answer, out _));
        }

        Assert.Equal(1, cache.EvictedEarly);
        Assert.Equal(16, cache.Count);
        Assert.Equal(DuplicateState.InProgress, cache.Begin(Key(16), _answer, out _));
        Assert.Equal(DuplicateState.New, cache.Begin(Key(0), _answer, out _));
    }

    [Fact]
    public void Begin_ManyAnswersThroughTheRing_EachReadBackOrForgottenNeverWrong()
    {
        // 3 MiB of answers through 2 MiB of room: old answers are overwritten and must then read as forgotten, never as someone else's bytes.
        var cache = new DuplicateCache(TimeSpan.FromSeconds(5), _time, capacity: 4096, answerBytes: 2 << 20);
        var answer = new byte[1000];
        for (var i = 0; i < 3000; i++)
        {
            var key = Key((byte)i, authenticator: i);
            Assert.Equal(DuplicateState.New, cache.Begin(key, _answer, out _));
            answer.AsSpan().Fill((byte)(i % 251));
            cache.Complete(key, answer);
        }

        var answered = 0;
        for (var i = 0; i < 3000; i++)
        {
            switch (cache.Begin(Key((byte)i, authenticator: i), _answer, out var length))
            {
                case DuplicateState.Answered:
                    Assert.Equal(1000, length);
                    Assert.All(_answer[..length], b => Assert.Equal((byte)(i % 251), b));
                    answered++;
                    break;
                case DuplicateState.New:
                    Assert.True(i < 2000, $"answer {i} is recent and should still be there");
                    break;
                default:
                    Assert.Fail($"answer {i}: unexpected state");
                    break;
            }
        }

        Assert.InRange(answered, 1000, 2100);
    }

    [Fact]
    public void Abandon_ThenExpire_CountStaysRight()
    {
        var cache = new DuplicateCache(TimeSpan.FromSeconds(5), _time, capacity: 16);
        cache.Begin(Key(1), _answer, out _);
        cache.Begin(Key(2), _answer, out _);
        cache.Abandon(Key(1));
        Assert.Equal(1, cache.Count);

        _time.Advance(TimeSpan.FromSeconds(6));
        cache.Expire();

        Assert.Equal(0, cache.Count);
        Assert.Equal(DuplicateState.New, cache.Begin(Key(2), _answer, out _));
    }

    private static RadiusRequestKey Key(byte identifier, int authenticator = 7) =>
        new(IPAddress.Parse("192.0.2.1"), 50000, RadiusCode.AccessRequest, identifier, (UInt128)authenticator);
}
