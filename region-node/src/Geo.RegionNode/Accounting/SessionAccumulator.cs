namespace Geo.RegionNode.Accounting;

/// <summary>A session row as the commit path reads and writes it.</summary>
internal sealed class SessionState
{
    private uint _readVersion;

    public required Guid Id { get; init; }

    public required string NasId { get; init; }

    public required string AcctSessionId { get; init; }

    public Guid? SubscriberId { get; set; }

    public required string Username { get; set; }

    public string? NasPort { get; set; }

    public string? CallingStationId { get; set; }

    public System.Net.IPAddress? FramedIp { get; set; }

    public bool Open { get; set; } = true;

    public DateTimeOffset StartedAt { get; set; }

    public DateTimeOffset LastUpdateAt { get; set; }

    public DateTimeOffset? StoppedAt { get; set; }

    public string? TerminateCause { get; set; }

    public Counters Counters { get; set; }

    /// <summary>Cumulative usage of the session already rated (monotonic; money is priced on it).</summary>
    public long BilledBytes { get; set; }

    public long BilledSeconds { get; set; }

    /// <summary>True once the plan's exhaustion action was issued for this session.</summary>
    public bool ExhaustionApplied { get; set; }

    /// <summary>True once this commit changed the row (it must be written back).</summary>
    public bool Dirty { get; set; }

    /// <summary>True when the row did not exist before this commit.</summary>
    public bool New { get; init; }

    /// <summary>The row version read (its xmin); the update applies only where the row still is that version.</summary>
    public uint ReadVersion { get => _readVersion; init => _readVersion = value; }

    /// <summary>A copy of the row as it is now, as if read at row version <paramref name="version"/>.</summary>
    public SessionState Copy(uint version)
    {
        var copy = new SessionState { Id = Id, NasId = NasId, AcctSessionId = AcctSessionId, Username = Username, ReadVersion = version };
        copy.Take(this);
        return copy;
    }

    /// <summary>
    /// Takes what <paramref name="other"/> (a later state of the same row) holds now, keeping this object: a
    /// remembered session is updated in place rather than replaced, so that the group commit's memory of it makes
    /// no new objects for the garbage collector to promote.
    /// </summary>
    public void Take(SessionState other, uint version)
    {
        Take(other);
        _readVersion = version;
    }

    private void Take(SessionState other)
    {
        SubscriberId = other.SubscriberId;
        Username = other.Username;
        NasPort = other.NasPort;
        CallingStationId = other.CallingStationId;
        FramedIp = other.FramedIp;
        Open = other.Open;
        StartedAt = other.StartedAt;
        LastUpdateAt = other.LastUpdateAt;
        StoppedAt = other.StoppedAt;
        TerminateCause = other.TerminateCause;
        Counters = other.Counters;
        BilledBytes = other.BilledBytes;
        BilledSeconds = other.BilledSeconds;
        ExhaustionApplied = other.ExhaustionApplied;
    }
}

/// <summary>A CDR to insert: the event as reported plus what it added to the session.</summary>
internal sealed record CdrRow(Guid Id, Guid SessionId, Guid? SubscriberId, AccountingKind Kind, DateTimeOffset EventTime, Counters Reported, Counters Delta, int Flags)
{
    public long ChargedMicros { get; init; }

    /// <summary>The subscriber's balance after this CDR's charge; set only when it charged money.</summary>
    public long? BalanceAfterMicros { get; init; }

    public long DataUsed { get; init; }

    public long TimeUsed { get; init; }

    public int RatingMarks { get; init; }
}

/// <summary>
/// Applies accounting events to sessions, pure (no I/O). Counters are cumulative, so a repeated event adds nothing, a
/// reordered one never lowers counters, and one that went backwards (NAS restart, wrap) is re-based and flagged.
/// </summary>
internal static class SessionAccumulator
{
    /// <summary>CDR flag: a counter went backwards and was re-based.</summary>
    public const int CounterReset = 1;

    /// <summary>CDR flag: the session was first seen by this event (its Start was never received).</summary>
    public const int MissedStart = 2;

    public static SessionState Create(AccountingEvent e)
    {
        var startedAt = e.Kind == AccountingKind.Start ? e.EventTime : e.EventTime.AddSeconds(-e.Counters.SessionTime);
        return new SessionState
        {
            Id = Guid.CreateVersion7(),
            NasId = e.NasId,
            AcctSessionId = e.AcctSessionId,
            SubscriberId = e.SubscriberId,
            Username = e.Username,
            StartedAt = startedAt,
            LastUpdateAt = startedAt,
            New = true,
        };
    }

    /// <summary>Applies one event; returns the CDR it produces, or null for a duplicate or stale event.</summary>
    public static CdrRow? Apply(SessionState session, AccountingEvent e)
    {
        var previous = session.Counters;
        var reported = e.Counters;
        var isNew = session.New && !session.Dirty;

        // Identical to what is already recorded (a retransmission that missed the duplicate cache): nothing new.
        if (!isNew && reported == previous && (e.Kind != AccountingKind.Stop || !session.Open) && (e.Kind != AccountingKind.Start))
        {
            return null;
        }

        if (!isNew && e.Kind == AccountingKind.Start)
        {
            // A repeated Start of a known session adds nothing; a late Start after interims changes nothing either.
            return null;
        }

        if (!isNew && !session.Open)
        {
            // Anything after the Stop is late: the session is closed and charged.
            return null;
        }

        if (!isNew && reported.SessionTime < previous.SessionTime && e.Kind != AccountingKind.Stop)
        {
            // An interim older than what is recorded (UDP reordering): it reports nothing new.
            return null;
        }

        var flags = isNew && e.Kind != AccountingKind.Start ? MissedStart : 0;
        var delta = new Counters(
            Difference(reported.InputOctets, previous.InputOctets, ref flags),
            Difference(reported.OutputOctets, previous.OutputOctets, ref flags),
            Difference(reported.InputPackets, previous.InputPackets, ref flags),
            Difference(reported.OutputPackets, previous.OutputPackets, ref flags),
            Difference(reported.SessionTime, previous.SessionTime, ref flags));

        session.Counters = (flags & CounterReset) != 0 ? reported : Max(previous, reported);
        session.LastUpdateAt = e.EventTime > session.LastUpdateAt ? e.EventTime : session.LastUpdateAt;
        session.Username = e.Username;
        session.SubscriberId ??= e.SubscriberId;
        session.NasPort ??= e.NasPort;
        session.CallingStationId ??= e.CallingStationId;
        session.FramedIp = e.FramedIp ?? session.FramedIp;
        if (e.Kind == AccountingKind.Stop)
        {
            session.Open = false;
            session.StoppedAt = e.EventTime;
            session.TerminateCause = e.TerminateCause;
        }

        session.Dirty = true;
        return new CdrRow(Guid.CreateVersion7(), session.Id, session.SubscriberId, e.Kind, e.EventTime, reported, delta, flags);
    }

    /// <summary>Closes an open session because its NAS restarted (Accounting-On/Off).</summary>
    public static void CloseForNasRestart(SessionState session, DateTimeOffset at, string cause)
    {
        session.Open = false;
        session.StoppedAt = at;
        session.TerminateCause = cause;
        session.Dirty = true;
    }

    private static long Difference(long reported, long previous, ref int flags)
    {
        if (reported >= previous)
        {
            return reported - previous;
        }

        // Went backwards: count what the NAS reports since it restarted its counter; nothing is subtracted.
        flags |= CounterReset;
        return reported;
    }

    private static Counters Max(Counters a, Counters b) => new(
        Math.Max(a.InputOctets, b.InputOctets),
        Math.Max(a.OutputOctets, b.OutputOctets),
        Math.Max(a.InputPackets, b.InputPackets),
        Math.Max(a.OutputPackets, b.OutputPackets),
        Math.Max(a.SessionTime, b.SessionTime));
}
