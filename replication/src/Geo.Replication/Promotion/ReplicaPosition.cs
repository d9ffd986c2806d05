namespace Geo.Replication.Promotion;

/// <summary>Where a replica stands: what it applied and what it had heard of its source (its <c>replication_progress</c> row).</summary>
/// <param name="Source">The stream's name (<c>pgoutput:&lt;slot&gt;</c>, or the Kafka stream's).</param>
/// <param name="AppliedPosition">
/// The source position through which the replica holds every source transaction: for pgoutput an LSN (<c>16/B374D848</c>), the
/// end of the last applied transaction or, when the stream had applied everything it was sent, the source WAL end heard then;
/// for Kafka the stored partition offsets (JSON).
/// </param>
/// <param name="AppliedCommitTime">The source commit time of the last applied transaction; null when none was applied since the initial copy.</param>
/// <param name="HeardPosition">The highest source WAL end the stream had received (pgoutput; null for Kafka): the whole source server's WAL.</param>
/// <param name="HeardSourceTime">The source server's clock of that message (for a keepalive, extrapolated from the last change's clock).</param>
/// <param name="HeardAt">The standby's clock when it was heard.</param>
/// <param name="AppliedTransactions">Source transactions applied by streaming since the replica was seeded (or since migration 0009); null before.</param>
/// <param name="PromotedAt">When the replica was promoted to be its shard's owner database; null while it is a replica.</param>
public sealed record ReplicaPosition(
    string Source,
    string? AppliedPosition,
    DateTimeOffset? AppliedCommitTime,
    string? HeardPosition,
    DateTimeOffset? HeardSourceTime,
    DateTimeOffset? HeardAt,
    long? AppliedTransactions,
    DateTimeOffset? PromotedAt);
