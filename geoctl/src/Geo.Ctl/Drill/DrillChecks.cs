using Geo.Radius;
using Geo.Schema;
using Npgsql;

namespace Geo.Ctl.Drill;

/// <summary>
/// What the drill reads from a shard's database: which of its accounting requests are there, and whether any session was
/// charged twice. Each read on a connection of its own, so the drill leaves no idle session on a database a rejoin renames.
/// </summary>
internal static class DrillChecks
{
    /// <summary>What a shard's database records of the drill's sessions (<see cref="ShardRecord"/>).</summary>
    public static async Task<ShardRecord> ReadAsync(string database, string runId, CancellationToken cancellationToken)
    {
        await using var connection = await PlatformDatabases.OpenUnpooledAsync(database, cancellationToken);
        await using var command = new NpgsqlCommand("""
            SELECT s.acct_session_id, max(c.input_octets), max(c.input_octets) FILTER (WHERE c.kind = 'stop')
            FROM sessions s JOIN cdrs c ON c.session_id = s.id
            WHERE s.acct_session_id LIKE $1
            GROUP BY s.acct_session_id
            """, connection);
        command.Parameters.Add(new() { Value = SessionPattern(runId) });
        var sessions = new Dictionary<string, (long, long?)>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            sessions[reader.GetString(0)] = (reader.GetInt64(1), reader.IsDBNull(2) ? null : reader.GetInt64(2));
        }

        return new ShardRecord(sessions);
    }

    /// <summary>
    /// The drill's sessions charged more than their NAS reported: the usage charged over all a session's CDRs (their
    /// deltas) above the highest cumulative counter the NAS sent, in octets either way or seconds. Empty when every session
    /// was charged once.
    /// </summary>
    public static async Task<IReadOnlyList<string>> DoubleChargedAsync(string database, string runId, CancellationToken cancellationToken)
    {
        await using var connection = await PlatformDatabases.OpenUnpooledAsync(database, cancellationToken);
        await using var command = new NpgsqlCommand("""
            SELECT s.acct_session_id, sum(c.delta_input_octets), max(c.input_octets), sum(c.delta_output_octets), max(c.output_octets),
                   sum(c.delta_session_time_s), max(c.session_time_s)
            FROM sessions s JOIN cdrs c ON c.session_id = s.id
            WHERE s.acct_session_id LIKE $1
            GROUP BY s.acct_session_id
            HAVING sum(c.delta_input_octets) > max(c.input_octets) OR sum(c.delta_output_octets) > max(c.output_octets)
                OR sum(c.delta_session_time_s) > max(c.session_time_s)
            ORDER BY 1
            """, connection);
        command.Parameters.Add(new() { Value = SessionPattern(runId) });
        var charged = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            charged.Add($"{reader.GetString(0)}: charged {reader.GetDecimal(1)}/{reader.GetDecimal(3)} octets and {reader.GetDecimal(5)} s for a reported " +
                $"{reader.GetInt64(2)}/{reader.GetInt64(4)} octets and {reader.GetInt64(6)} s");
        }

        return charged;
    }

    /// <summary>Accounting held for the shard in any region's survivability journal (handed to the owner once it answers).</summary>
    public static async Task<long> JournalledAsync(IEnumerable<string> journals, string tenantId, string homeRegion, CancellationToken cancellationToken)
    {
        long held = 0;
        foreach (var journal in journals)
        {
            try
            {
                await using var connection = await PlatformDatabases.OpenUnpooledAsync(journal, cancellationToken);
                await using var command = new NpgsqlCommand("SELECT count(*) FROM survival_journal WHERE tenant_id = $1 AND home_region = $2", connection);
                command.Parameters.Add(new() { Value = tenantId });
                command.Parameters.Add(new() { Value = homeRegion });
                held += (long)(await command.ExecuteScalarAsync(cancellationToken))!;
            }
            catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.InvalidCatalogName or PostgresErrorCodes.UndefinedTable)
            {
                // No journal in that region: nothing held there.
            }
        }

        return held;
    }

    /// <summary>
    /// The drill's accounting requests a survivability journal holds for the shard (acknowledged there, not yet handed to the
    /// owner): session, Acct-Status-Type and cumulative input octets of each, read from the journalled packets.
    /// </summary>
    public static async Task<HashSet<(string SessionId, uint Status, long InputOctets)>> JournalHeldAsync(IEnumerable<string> journals, string tenantId, string homeRegion,
        string runId, CancellationToken cancellationToken)
    {
        var held = new HashSet<(string, uint, long)>();
        foreach (var journal in journals)
        {
            try
            {
                await using var connection = await PlatformDatabases.OpenUnpooledAsync(journal, cancellationToken);
                await using var command = new NpgsqlCommand(
                    "SELECT acct_session_id, status_type, packet FROM survival_journal WHERE tenant_id = $1 AND home_region = $2 AND acct_session_id LIKE $3", connection);
                command.Parameters.Add(new() { Value = tenantId });
                command.Parameters.Add(new() { Value = homeRegion });
                command.Parameters.Add(new() { Value = SessionPattern(runId) });
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    var packet = reader.GetFieldValue<byte[]>(2);
                    var octets = RadiusPacket.TryRead(packet, out var request) == RadiusReadStatus.Ok && AccountingCounters.TryGetInputOctets(request, out var input) ? (long)input : 0;
                    held.Add((reader.GetString(0), (uint)reader.GetInt32(1), octets));
                }
            }
            catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.InvalidCatalogName or PostgresErrorCodes.UndefinedTable)
            {
                // No journal in that region: nothing held there.
            }
        }

        return held;
    }

    /// <summary>The acct-session-ids of a drill run (<c>drill-&lt;run&gt;-&lt;n&gt;</c>) as a LIKE pattern.</summary>
    public static string SessionPattern(string runId) => $"drill-{runId}-%";
}

/// <summary>
/// What a shard holds of the drill's sessions: per session, the highest cumulative input octets of its CDRs and those of its
/// Stop. Accounting is cumulative, so a request is held when the shard knows at least what it said: its session (a Start),
/// its counters or later ones (an Interim-Update: one that arrives after a later one reports nothing new and writes no CDR,
/// by design), its Stop (a Stop).
/// </summary>
internal sealed class ShardRecord(IReadOnlyDictionary<string, (long MaxInputOctets, long? StopInputOctets)> sessions)
{
    public bool Holds(DrillRequest request) => sessions.TryGetValue(request.SessionId, out var session) && request.Kind switch
    {
        RequestKind.Start => true,
        RequestKind.Interim => session.MaxInputOctets >= request.InputOctets,
        RequestKind.Stop => session.StopInputOctets >= request.InputOctets,
        _ => false,
    };
}
