using System.Diagnostics;

namespace Geo.Testing;

/// <summary>
/// Waits for a condition with a deadline instead of a sleep: polls it with a short delay until it holds, and when
/// the deadline passes fails with what it saw last (value or exception). The deadline is wall-clock time on purpose:
/// it bounds how long a test may wait on real processes, it is not the behaviour under test, so make it generous.
/// </summary>
public static class Eventually
{
    /// <summary>How long to wait between two observations unless told otherwise.</summary>
    public static readonly TimeSpan DefaultPoll = TimeSpan.FromMilliseconds(20);

    /// <summary>Waits until <paramref name="condition"/> returns true.</summary>
    /// <param name="condition">The condition; an exception it throws counts as "not yet" (and is reported if the wait fails).</param>
    /// <param name="timeout">How long to wait at most.</param>
    /// <param name="because">What is awaited, for the failure message ("the replica has the row").</param>
    /// <param name="poll">The delay between two observations (<see cref="DefaultPoll"/> by default).</param>
    /// <param name="context">What else to report when the wait fails (a status, a process's last log lines).</param>
    public static Task TrueAsync(Func<Task<bool>> condition, TimeSpan timeout, string because, TimeSpan? poll = null, Func<string>? context = null) =>
        ValueAsync(condition, holds => holds, timeout, because, poll, context);

    /// <summary>Waits until <paramref name="condition"/> returns true (a condition on in-memory state).</summary>
    public static Task TrueAsync(Func<bool> condition, TimeSpan timeout, string because, TimeSpan? poll = null, Func<string>? context = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        return TrueAsync(() => Task.FromResult(condition()), timeout, because, poll, context);
    }

    /// <summary>Waits until <paramref name="observe"/> returns a value that <paramref name="accept"/> accepts, and returns it.</summary>
    /// <param name="observe">Reads the current value; an exception counts as "not yet" (and is reported if the wait fails).</param>
    /// <param name="accept">Whether a value is the one awaited.</param>
    /// <param name="timeout">How long to wait at most.</param>
    /// <param name="because">What is awaited, for the failure message.</param>
    /// <param name="poll">The delay between two observations (<see cref="DefaultPoll"/> by default).</param>
    /// <param name="context">What else to report when the wait fails (a status, a process's last log lines).</param>
    public static async Task<T> ValueAsync<T>(Func<Task<T>> observe, Func<T, bool> accept, TimeSpan timeout, string because, TimeSpan? poll = null,
        Func<string>? context = null)
    {
        ArgumentNullException.ThrowIfNull(observe);
        ArgumentNullException.ThrowIfNull(accept);
        var clock = Stopwatch.StartNew();
        var observations = 0;
        var observed = false;
        T last = default!;
        Exception? error = null;
        while (true)
        {
            observations++;
            try
            {
                last = await observe();
                observed = true;
                error = null;
                if (accept(last))
                {
                    return last;
                }
            }
            catch (Exception ex) when (ex is not EventuallyFailedException)
            {
                error = ex;
            }

            if (clock.Elapsed >= timeout)
            {
                var seen = error is not null ? $"the last observation threw {error.GetType().Name}: {error.Message}"
                    : observed ? $"the last value was {Describe(last)}"
                    : "nothing was observed";
                var more = context is null ? "" : $"\n{context()}";
                throw new EventuallyFailedException(
                    $"Timed out after {clock.Elapsed.TotalSeconds:F1} s ({observations} observations) waiting until {because}; {seen}{more}", error);
            }

            await Task.Delay(poll ?? DefaultPoll);
        }
    }

    /// <summary>Waits until <paramref name="observe"/> returns something other than null, and returns it.</summary>
    public static async Task<T> NotNullAsync<T>(Func<Task<T?>> observe, TimeSpan timeout, string because, TimeSpan? poll = null, Func<string>? context = null)
        where T : class =>
        (await ValueAsync(observe, value => value is not null, timeout, because, poll, context))!;

    private static string Describe<T>(T value) => value switch
    {
        null => "null",
        string text => $"\"{text}\"",
        _ => value.ToString() ?? value.GetType().Name,
    };
}

/// <summary>A condition awaited with <see cref="Eventually"/> did not hold in time.</summary>
public sealed class EventuallyFailedException : Exception
{
    /// <summary>Creates the exception.</summary>
    public EventuallyFailedException()
    {
    }

    /// <summary>Creates the exception with its message.</summary>
    public EventuallyFailedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its message and the last observation's exception.</summary>
    public EventuallyFailedException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
