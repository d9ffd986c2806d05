namespace Geo.Replication.Hosting;

/// <summary>Where a shard's stream is in its life.</summary>
public enum ShardState
{
    /// <summary>Opening the source and the replica.</summary>
    Starting,

    /// <summary>Copying the source snapshot into a new replica.</summary>
    Syncing,

    /// <summary>Applying changes as they come.</summary>
    Streaming,

    /// <summary>The stream broke; waiting to try again (see <see cref="ShardStatus.LastError"/>).</summary>
    Retrying,

    /// <summary>Stopped.</summary>
    Stopped,

    /// <summary>
    /// Cannot run as the directory describes it (for example no server is configured for the owner region; see
    /// <see cref="ShardStatus.LastError"/>); looked at again on the next directory change.
    /// </summary>
    Failed,
}

/// <summary>A point-in-time view of one shard's stream, for metrics, health and status.</summary>
/// <param name="Shard">The shard name.</param>
/// <param name="State">Where the stream is.</param>
/// <param name="LagSeconds">Seconds behind: how long the oldest received, unapplied transaction has waited since its source commit (0 when none); while not streaming, the age of the last applied commit.</param>
/// <param name="LagBytes">WAL bytes between the source's current position and what the replica confirmed; null when unknown (Kafka, or the source is unreachable).</param>
/// <param name="LagWarning">True when <paramref name="LagSeconds"/> exceeds the warning threshold.</param>
/// <param name="AppliedTransactions">Source transactions applied since start.</param>
/// <param name="AppliedChanges">Row changes applied since start.</param>
/// <param name="MissingRows">Updates and deletes that found no row on the replica since start (non-zero means divergence).</param>
/// <param name="LastAppliedCommitTime">Source commit time of the last applied transaction.</param>
/// <param name="Position">The replica's stored position token.</param>
/// <param name="LastError">The error that broke the stream last, if any.</param>
public sealed record ShardStatus(
    string Shard,
    ShardState State,
    double LagSeconds,
    double? LagBytes,
    bool LagWarning,
    long AppliedTransactions,
    long AppliedChanges,
    long MissingRows,
    DateTimeOffset? LastAppliedCommitTime,
    string? Position,
    string? LastError);

/// <summary>One applier commit: what it applied and when, for lag measurements.</summary>
/// <param name="Transactions">Source transactions in it.</param>
/// <param name="Changes">Row changes in it.</param>
/// <param name="CommitTimes">Source commit time of each applied transaction.</param>
/// <param name="AppliedAt">When the replica transaction committed.</param>
public sealed record AppliedBatch(int Transactions, int Changes, IReadOnlyList<DateTimeOffset> CommitTimes, DateTimeOffset AppliedAt);
