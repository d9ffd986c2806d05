using System.Diagnostics;

namespace Geo.Ctl.Drill;

/// <summary>What a drill request was.</summary>
internal enum RequestKind
{
    Login,
    Start,
    Interim,
    Stop,
}

/// <summary>
/// One request of the drill's NAS simulator and what became of it: when it was released, when and by which region it was
/// answered (null: neither endpoint answered after every try), the answer's RADIUS code and how many times it was sent.
/// Accounting requests are identified by their session, kind and cumulative input octets (growing within a session).
/// </summary>
internal sealed record DrillRequest(RequestKind Kind, string NasId, string Username, string SessionId, long InputOctets, double SentAt)
{
    public double? AnsweredAt { get; set; }

    public string? AnsweredBy { get; set; }

    public byte Code { get; set; }

    public int Sends { get; set; }

    public bool IsAccounting => Kind != RequestKind.Login;

    public bool Acknowledged => IsAccounting && AnsweredAt is not null;
}

/// <summary>The drill's clock and every request it sent, thread-safe.</summary>
internal sealed class DrillRecorder
{
    private readonly long _started = Stopwatch.GetTimestamp();
    private readonly List<DrillRequest> _requests = new(1 << 16);
    private readonly Lock _gate = new();

    /// <summary>Wall-clock time of second 0, to place the DR log's events on the drill's clock.</summary>
    public DateTimeOffset StartedAt { get; } = DateTimeOffset.UtcNow;

    /// <summary>Seconds since the drill started.</summary>
    public double Now => Stopwatch.GetElapsedTime(_started).TotalSeconds;

    /// <summary>A wall-clock time on the drill's clock.</summary>
    public double At(DateTimeOffset time) => (time - StartedAt).TotalSeconds;

    public DrillRequest Begin(RequestKind kind, string nasId, string username, string sessionId, long inputOctets)
    {
        var request = new DrillRequest(kind, nasId, username, sessionId, inputOctets, Now);
        lock (_gate)
        {
            _requests.Add(request);
        }

        return request;
    }

    public void Answer(DrillRequest request, string? region, byte code, int sends)
    {
        lock (_gate)
        {
            request.Sends = sends;
            if (region is not null)
            {
                request.AnsweredAt = Now;
                request.AnsweredBy = region;
                request.Code = code;
            }
        }
    }

    /// <summary>A copy of every request so far, in release order.</summary>
    public IReadOnlyList<DrillRequest> Snapshot()
    {
        lock (_gate)
        {
            return [.. _requests];
        }
    }
}
