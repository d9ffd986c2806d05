using System.Globalization;

namespace Geo.Replication.Changes;

/// <summary>A position in a source's stream: <see cref="Lsn"/> orders transactions; <see cref="Token"/> is stored and resumed from.</summary>
/// <param name="Lsn">Commit-ordered WAL position; 0 when unknown.</param>
/// <param name="Token">The stored, source-specific form of the position.</param>
public readonly record struct SourcePosition(ulong Lsn, string Token);

/// <summary>
/// One whole source transaction, in commit order: its change events and its commit boundary. The applier
/// applies it atomically or not at all.
/// </summary>
public sealed class ChangeTransaction
{
    /// <summary>Creates a transaction.</summary>
    public ChangeTransaction(string id, long txId, SourcePosition position, DateTimeOffset commitTime, IReadOnlyList<ChangeEvent> events)
    {
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(events);
        Id = id;
        TxId = txId;
        Position = position;
        CommitTime = commitTime;
        Events = events;
    }

    /// <summary>The transaction's id as the source names it (Debezium's transaction <c>id</c>).</summary>
    public string Id { get; }

    /// <summary>The source transaction id (xid); -1 when unknown.</summary>
    public long TxId { get; }

    /// <summary>The position just after this transaction: stored with it, acknowledged after it commits.</summary>
    public SourcePosition Position { get; }

    /// <summary>When it committed at the source.</summary>
    public DateTimeOffset CommitTime { get; }

    /// <summary>The changes, in source order. May be empty (e.g. a transaction holding only a logical message).</summary>
    public IReadOnlyList<ChangeEvent> Events { get; }
}

/// <summary>PostgreSQL LSN text (<c>16/B374D848</c>) to and from its 64-bit value.</summary>
public static class Lsn
{
    /// <summary>Formats an LSN as PostgreSQL does.</summary>
    public static string Format(ulong lsn) =>
        string.Create(CultureInfo.InvariantCulture, $"{(uint)(lsn >> 32):X}/{(uint)lsn:X}");

    /// <summary>Parses <c>X/Y</c>; false on anything else.</summary>
    public static bool TryParse(string? text, out ulong lsn)
    {
        lsn = 0;
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }

        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || slash == text.Length - 1 ||
            !uint.TryParse(text.AsSpan(0, slash), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var high) ||
            !uint.TryParse(text.AsSpan(slash + 1), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var low))
        {
            return false;
        }

        lsn = ((ulong)high << 32) | low;
        return true;
    }
}
