using Geo.Replication.Changes;
using Geo.Replication.PgOutput;
using Geo.Replication.Verification;
using Microsoft.Extensions.Logging;

namespace Geo.Replication.Rejoin;

/// <summary>
/// The divergent tail of a lost owner: what its database committed after the last position the promoted standby applied.
/// The old owner's slot to that standby still holds those changes (nothing past the applied position was acknowledged), so
/// they are decoded from it, exactly, in commit order. Nothing is acknowledged: the slot keeps the tail, and reading it again
/// reads the same transactions.
/// </summary>
public static class DivergentTail
{
    /// <summary>How long the tail may take to arrive before the read gives up.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Reads every transaction of the old owner's database that ends after <paramref name="appliedPosition"/>, up to the end of its
    /// WAL: a marker committed first (<c>replication_markers</c>) ends the read when it arrives; markers are not part of the tail. The
    /// database should take no other writes meanwhile (a rejoin freezes it first).
    /// </summary>
    /// <param name="oldOwnerConnectionString">The old owner's database, writable (the marker, the publication's table list).</param>
    /// <param name="slot">The old owner's slot to the promoted standby (<see cref="ReplicationSlots.DefaultSlotName"/>).</param>
    /// <param name="appliedPosition">The LSN the standby had applied when it was promoted (its <c>replication_progress</c> position).</param>
    /// <param name="logger">Where the stream logs.</param>
    /// <param name="timeout">How long to wait for the marker; <see cref="DefaultTimeout"/> when null.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <exception cref="ReplicationException">The slot is gone (the tail cannot be decoded), or the marker did not arrive in time.</exception>
    public static async Task<IReadOnlyList<ChangeTransaction>> ReadAsync(string oldOwnerConnectionString, string slot, string appliedPosition, ILogger logger,
        TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(oldOwnerConnectionString);
        ArgumentException.ThrowIfNullOrWhiteSpace(slot);
        if (!Lsn.TryParse(appliedPosition, out var applied))
        {
            throw new ArgumentException($"'{appliedPosition}' is not an LSN", nameof(appliedPosition));
        }

        if (!await ReplicationSlots.SlotExistsAsync(oldOwnerConnectionString, slot, cancellationToken))
        {
            throw new ReplicationException(
                $"the old owner's database has no slot '{slot}': its changes after {appliedPosition} cannot be decoded (was the slot dropped, or the database restored from a backup?)");
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout ?? DefaultTimeout);
        while (true)
        {
            // A region that was cut off rather than killed comes back with the walsender of the promoted standby's old
            // stream still holding the slot (it learns its client left only when it next writes). That session is stale:
            // the new owner streams from nothing here. It is ended, and the slot read once the server let it go.
            await ReplicationSlots.EndSessionAsync(oldOwnerConnectionString, slot, cancellationToken: cancellationToken);
            try
            {
                return await ReadOnceAsync(oldOwnerConnectionString, slot, appliedPosition, applied, logger, timeout, deadline.Token, cancellationToken);
            }
            catch (Npgsql.PostgresException ex) when (ex.SqlState == Npgsql.PostgresErrorCodes.ObjectInUse && !deadline.IsCancellationRequested)
            {
                await Task.Delay(SlotReleasePoll, cancellationToken);
            }
        }
    }

    /// <summary>How often a slot still held by an ended session is tried again.</summary>
    private static readonly TimeSpan SlotReleasePoll = TimeSpan.FromMilliseconds(250);

    private static async Task<IReadOnlyList<ChangeTransaction>> ReadOnceAsync(string oldOwnerConnectionString, string slot, string appliedPosition, ulong applied,
        ILogger logger, TimeSpan? timeout, CancellationToken deadline, CancellationToken cancellationToken)
    {
        var marker = await ReplicationBarrier.EmitAsync(oldOwnerConnectionString, cancellationToken);
        var markerText = marker.ToString();
        var tail = new List<ChangeTransaction>();
        var source = new PgOutputSource(oldOwnerConnectionString, slot, ReplicationSlots.DefaultPublication, logger) { ConfirmsWhileIdle = false };
        try
        {
            await source.OpenAsync(appliedPosition, deadline);
            await foreach (var transaction in source.ReadAsync(deadline))
            {
                if (transaction.Events.Any(e => IsMarker(e, markerText)))
                {
                    break;
                }

                // Markers (this read's, an earlier read's, a verifier's) are bookkeeping: no part of the tail.
                if (transaction.Position.Lsn > applied && transaction.Events.Any(e => !IsMarkerTable(e)))
                {
                    tail.Add(transaction.Events.Any(IsMarkerTable)
                        ? new ChangeTransaction(transaction.Id, transaction.TxId, transaction.Position, transaction.CommitTime, [.. transaction.Events.Where(e => !IsMarkerTable(e))])
                        : transaction);
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ReplicationException(
                $"the old owner's changes after {appliedPosition} did not all arrive within {(timeout ?? DefaultTimeout).TotalSeconds:F0} s (slot '{slot}'); {tail.Count} transaction(s) read so far");
        }
        finally
        {
            // The read was left between messages: the server is asked to end the session, so that closing it waits for nothing.
            await source.EndServerSessionAsync(logger);
            await source.DisposeAsync();
        }

        return tail;
    }

    private static bool IsMarkerTable(ChangeEvent change) => change.Table.Name == "replication_markers";

    private static bool IsMarker(ChangeEvent change, string marker)
    {
        if (change.Op != ChangeOperation.Create || !IsMarkerTable(change) || change.After is not { } row)
        {
            return false;
        }

        var id = change.Table.IndexOf("id");
        return id >= 0 && row[id].Text == marker;
    }
}
