namespace Geo.Replication.Promotion;

/// <summary>
/// The data a promotion loses, estimated: WAL bytes past the applied position (an upper bound: the WAL is the whole source
/// server's), the time span of the lost commits, and their count when it can be estimated. <see cref="Known"/> is false when the
/// replica has no heard position (a Kafka stream, or a replica that has heard nothing since migration 0009), with
/// <see cref="Basis"/> saying why.
/// </summary>
/// <param name="Known">Whether the standby knew enough to estimate (a pgoutput stream that recorded what it heard).</param>
/// <param name="Bytes">Source WAL bytes heard of past the applied position (0 when none); null when not known.</param>
/// <param name="Seconds">
/// The source-clock time from the last applied commit to the last message heard, when that message reported WAL past the applied
/// position; 0 otherwise.
/// </param>
/// <param name="Transactions">How many source transactions are lost, when that can be said (0 when nothing was heard past the applied position); null otherwise.</param>
/// <param name="Basis">How the figures were reached and what they cannot see, in a sentence or two for the operator.</param>
public sealed record RpoEstimate(bool Known, double? Bytes, double Seconds, long? Transactions, string Basis);
