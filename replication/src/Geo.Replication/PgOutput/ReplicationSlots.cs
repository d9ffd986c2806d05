using Npgsql;

namespace Geo.Replication.PgOutput;

/// <summary>
/// The publication and the logical replication slot the replicator owns in a shard's source database. A slot
/// keeps WAL on the source until it is acknowledged, so a retired shard's slot must be dropped.
/// </summary>
public static class ReplicationSlots
{
    /// <summary>The default publication name in every tenant database.</summary>
    public const string DefaultPublication = "geo_replication";

    /// <summary>The default slot name of a source database's stream to a standby region: <c>geo_&lt;db&gt;_to_&lt;region&gt;</c>.</summary>
    public static string DefaultSlotName(string database, string standbyRegion)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(standbyRegion);
        var raw = $"{database}_to_{standbyRegion}".ToLowerInvariant();
        var chars = raw.Select(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) ? c : '_').ToArray();
        var name = new string(chars);
        name = name.StartsWith("geo_", StringComparison.Ordinal) ? name : "geo_" + name;
        return name.Length > 63 ? name[..63] : name;
    }

    /// <summary>
    /// Creates the publication over every replicated table of the source, or brings an existing one's table list
    /// up to date (a migration may have added a table). Returns the tables it publishes.
    /// </summary>
    public static async Task<IReadOnlyList<string>> EnsurePublicationAsync(string sourceConnectionString, string publication, CancellationToken cancellationToken = default)
    {
        SqlIdentifier.RequireSimpleName(publication, nameof(publication));
        await using var connection = new NpgsqlConnection(sourceConnectionString);
        await connection.OpenAsync(cancellationToken);
        var tables = await ReplicatedTables.ListAsync(connection, null, cancellationToken);
        if (tables.Count == 0)
        {
            throw new InvalidOperationException($"database '{connection.Database}' has no table to replicate (apply the tenant migrations first)");
        }

        // What the publication holds now (null: there is none). Nothing to change is the usual case, and the only one the
        // replicator's own role meets: the publication comes with the tenant migrations, a later table with its trigger.
        await using var published = new NpgsqlCommand(
            """
            SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_publication WHERE pubname = @name)
                        THEN ARRAY(SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = @name) END
            """, connection);
        published.Parameters.AddWithValue("name", publication);
        var current = await published.ExecuteScalarAsync(cancellationToken) as string[];
        var wanted = tables.Select(t => t.ToString()).ToList();
        if (current is not null && current.Order(StringComparer.Ordinal).SequenceEqual(wanted.Order(StringComparer.Ordinal), StringComparer.Ordinal))
        {
            return wanted;
        }

        // Identifiers cannot be parameters: the publication name is validated above, table names come from the catalog, both quoted.
        var list = string.Join(", ", tables.Select(t => t.Quoted));
        var sql = current is not null
            ? $"ALTER PUBLICATION {SqlIdentifier.Quote(publication)} SET TABLE {list}"
            : $"CREATE PUBLICATION {SqlIdentifier.Quote(publication)} FOR TABLE {list}";
        try
        {
            await using var command = new NpgsqlCommand(sql, connection);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            throw new ReplicationException(
                $"publication {publication} in database '{connection.Database}' is {(current is null ? "missing" : "not over every replicated table")} and " +
                $"role {connection.UserName} may not {(current is null ? "create" : "change")} it ({ex.MessageText}): apply the tenant migrations as the " +
                $"administrator (geo-migrate), which create {DefaultPublication}, or {(current is null ? "create" : "alter")} it as the tables' owner", ex);
        }

        return wanted;
    }

    /// <summary>The tables a shard replicates (<c>schema.table</c>): every table of <c>public</c> but the local bookkeeping ones.</summary>
    public static async Task<IReadOnlyList<string>> ListReplicatedTablesAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        return (await ReplicatedTables.ListAsync(connection, null, cancellationToken)).Select(t => t.ToString()).ToList();
    }

    /// <summary>The slot's confirmed position, creating the (pgoutput) slot first when it does not exist.</summary>
    public static async Task<ulong> EnsureSlotAsync(string sourceConnectionString, string slot, CancellationToken cancellationToken = default)
    {
        SqlIdentifier.RequireSimpleName(slot, nameof(slot));
        await using var connection = new NpgsqlConnection(sourceConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var existing = new NpgsqlCommand("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = @slot", connection);
        existing.Parameters.AddWithValue("slot", slot);
        var text = await existing.ExecuteScalarAsync(cancellationToken) as string;
        if (text is null)
        {
            await using var create = new NpgsqlCommand("SELECT lsn::text FROM pg_create_logical_replication_slot(@slot, 'pgoutput')", connection);
            create.Parameters.AddWithValue("slot", slot);
            text = (string)(await create.ExecuteScalarAsync(cancellationToken))!;
        }

        return Changes.Lsn.TryParse(text, out var lsn) ? lsn : throw new ReplicationException($"slot {slot}: unexpected LSN '{text}'");
    }

    /// <summary>True when the source cluster has a replication slot of that name.</summary>
    public static async Task<bool> SlotExistsAsync(string sourceConnectionString, string slot, CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(sourceConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = @slot)", connection);
        command.Parameters.AddWithValue("slot", slot);
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>
    /// Ends the walsender that holds the slot, if any, and the stream's own walsender when given (its process id and
    /// <c>application_name</c>: a reused process id alone could name another session); its client's replication read then
    /// fails, and the slot stays. The stream's own matters once it was cancelled: the server then leaves the slot (no
    /// active pid) but the session stays, and Npgsql's read waits for it until its receiver timeout.
    /// </summary>
    public static async Task EndSessionAsync(string sourceConnectionString, string slot, (int Pid, string ApplicationName)? walSender = null, CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(sourceConnectionString);
        await connection.OpenAsync(cancellationToken);
        await TerminateWalSenderAsync(connection, slot, cancellationToken);
        if (walSender is { } own)
        {
            await using var terminate = new NpgsqlCommand(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = @pid AND backend_type = 'walsender' AND application_name = @name", connection);
            terminate.Parameters.AddWithValue("pid", own.Pid);
            terminate.Parameters.AddWithValue("name", own.ApplicationName);
            await terminate.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    private static async Task TerminateWalSenderAsync(NpgsqlConnection connection, string slot, CancellationToken cancellationToken)
    {
        await using var terminate = new NpgsqlCommand(
            "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = @slot AND active_pid IS NOT NULL", connection);
        terminate.Parameters.AddWithValue("slot", slot);
        await terminate.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// Drops the slot (ending the walsender that holds it, if any) and, when <paramref name="publication"/> is given,
    /// the publication. For a retired shard, and for a replica that must be seeded again. Missing objects are fine.
    /// </summary>
    public static async Task DropAsync(string sourceConnectionString, string slot, string? publication, CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(sourceConnectionString);
        await connection.OpenAsync(cancellationToken);
        for (var attempt = 1; ; attempt++)
        {
            await TerminateWalSenderAsync(connection, slot, cancellationToken);
            try
            {
                await using var drop = new NpgsqlCommand(
                    "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = @slot", connection);
                drop.Parameters.AddWithValue("slot", slot);
                await drop.ExecuteNonQueryAsync(cancellationToken);
                break;
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.ObjectInUse && attempt < 50)
            {
                // The terminated walsender has not exited yet.
                await Task.Delay(100, cancellationToken);
            }
        }

        if (publication is not null)
        {
            SqlIdentifier.RequireSimpleName(publication, nameof(publication));
            await using var dropPublication = new NpgsqlCommand($"DROP PUBLICATION IF EXISTS {SqlIdentifier.Quote(publication)}", connection);
            await dropPublication.ExecuteNonQueryAsync(cancellationToken);
        }
    }
}
