namespace Geo.Replication.Changes;

/// <summary>
/// What a stream had heard of its source's WAL when asked: the highest WAL end the source reported, with the source's
/// clock and the local one, and how far the transactions it has handed out reach. Persisted by the applier (the RPO
/// estimate of a promotion reads it back).
/// </summary>
/// <param name="Position">The highest WAL end the source reported (a change's or a keepalive's): the whole source server's WAL.</param>
/// <param name="SourceTime">
/// The source server's clock of that message. A keepalive's clock is not exposed by Npgsql: for a position first reported by a
/// keepalive it is the last change's clock plus the local time elapsed since that change arrived (or the local clock before any).
/// </param>
/// <param name="At">The local clock when the position was first noticed.</param>
/// <param name="LastYielded">The end of the last transaction handed out (0 before the first).</param>
/// <param name="CompleteThrough">
/// Every source transaction that ends at or before this position has been handed out: a replica that applied everything
/// handed out (through <see cref="LastYielded"/>) holds every transaction of the source up to it.
/// </param>
internal readonly record struct SourceHeard(ulong Position, DateTimeOffset SourceTime, DateTimeOffset At, ulong LastYielded, ulong CompleteThrough);

/// <summary>A change source that can tell what it has heard of its source (pgoutput; Debezium events through Kafka cannot).</summary>
internal interface IHeardSource
{
    /// <summary>What the stream has heard so far; null before it heard anything.</summary>
    SourceHeard? Heard { get; }
}
