namespace Geo.Replication.Changes;

/// <summary>A snapshot to seed a replica from: every commit before <see cref="Position"/> is in it, none after.</summary>
/// <param name="ConnectionString">Connection string of the source database.</param>
/// <param name="SnapshotName">The exported snapshot (<c>SET TRANSACTION SNAPSHOT</c>), valid while the source stays open.</param>
/// <param name="Position">The slot's consistent point.</param>
public sealed record SourceSnapshot(string ConnectionString, string SnapshotName, SourcePosition Position);

/// <summary>
/// A stream of whole source transactions in commit order. The replicator opens it with the position the
/// replica stored, reads transactions, and acknowledges a position only after the replica committed it.
/// </summary>
public interface IChangeSource : IAsyncDisposable
{
    /// <summary>The key of this stream in the replica's <c>replication_progress</c> table.</summary>
    string Name { get; }

    /// <summary>
    /// The highest LSN the source has been told is applied (by <see cref="AcknowledgeAsync"/> or, while idle and
    /// caught up, by the source's own keepalives); 0 when the source is not LSN-based.
    /// </summary>
    ulong ConfirmedLsn { get; }

    /// <summary>
    /// Prepares streaming from <paramref name="storedPosition"/> (the token the replica stored, null when it holds
    /// none). Returns a snapshot to seed the replica from when the source needs an initial sync first.
    /// </summary>
    Task<SourceSnapshot?> OpenAsync(string? storedPosition, CancellationToken cancellationToken);

    /// <summary>The transactions after the opened position, in commit order, until cancelled or broken.</summary>
    IAsyncEnumerable<ChangeTransaction> ReadAsync(CancellationToken cancellationToken);

    /// <summary>Tells the source that everything up to <paramref name="position"/> is durably applied.</summary>
    ValueTask AcknowledgeAsync(SourcePosition position, CancellationToken cancellationToken);
}
