using System.Text.Json;
using Npgsql;
using NpgsqlTypes;

namespace Geo.Directory.Operators;

/// <summary>
/// The operator keys and the audit log, in the directory's PostgreSQL database (tables <c>operator_keys</c> and
/// <c>audit_log</c>, <c>schema/migrations/directory/0004_directory_operators.sql</c>).
/// <para>
/// PostgreSQL only, not part of <see cref="IDirectoryStore"/>: the audit log is an append-only table that grows with
/// every admin call and is read by time and tenant. Consul's KV is a small replicated configuration store (every
/// write goes through the Raft log of the quorum, values are documents read whole, there are no range queries), so
/// a log there would cost every directory reader and could not be queried; and the in-memory store would lose it. A
/// router whose directory is in Consul therefore still needs <c>Router:DirectoryConnectionString</c> for its admin
/// API: a PostgreSQL database migrated with the directory schema, which holds these two tables.
/// </para>
/// </summary>
public sealed class OperatorStore : IAsyncDisposable
{
    private readonly NpgsqlDataSource _dataSource;

    /// <summary>A store over the directory database at <paramref name="connectionString"/>.</summary>
    public OperatorStore(string connectionString)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionString);
        _dataSource = NpgsqlDataSource.Create(connectionString);
    }

    /// <summary>Every named key, revoked ones included, by name.</summary>
    public async Task<IReadOnlyList<OperatorKey>> ListKeysAsync(CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand("SELECT name, key_hash, created_at, revoked_at FROM operator_keys ORDER BY name");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var keys = new List<OperatorKey>();
        while (await reader.ReadAsync(cancellationToken))
        {
            keys.Add(new OperatorKey(reader.GetString(0), (byte[])reader[1], reader.GetFieldValue<DateTimeOffset>(2),
                reader.IsDBNull(3) ? null : reader.GetFieldValue<DateTimeOffset>(3)));
        }

        return keys;
    }

    /// <summary>Stores a new key's hash under <paramref name="name"/>; false when the name (or the key) is taken, revoked ones included.</summary>
    public async Task<bool> AddKeyAsync(string name, byte[] sha256, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sha256);
        if (!OperatorKeys.IsValidName(name))
        {
            throw new ArgumentException($"operator key name '{name}': {OperatorKeys.NameRule}", nameof(name));
        }

        await using var command = _dataSource.CreateCommand("INSERT INTO operator_keys (name, key_hash) VALUES ($1, $2) ON CONFLICT DO NOTHING");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = name });
        command.Parameters.Add(new NpgsqlParameter<byte[]> { TypedValue = sha256 });
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>Revokes a key at once; false when there is no such key or it was revoked already.</summary>
    public async Task<bool> RevokeKeyAsync(string name, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand("UPDATE operator_keys SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = name });
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>Appends one entry, stamped with the database's clock.</summary>
    public async Task AppendAsync(AuditRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        await using var command = _dataSource.CreateCommand(
            "INSERT INTO audit_log (operator, action, tenant, source, result, reason, detail) VALUES ($1, $2, $3, $4, $5, $6, coalesce($7, '{}'::jsonb))");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = record.Operator });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = record.Action });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)record.Tenant ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = record.Source });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = record.Result });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)Shorten(record.Reason) ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = record.Detail is { } detail ? detail.GetRawText() : DBNull.Value, NpgsqlDbType = NpgsqlDbType.Jsonb });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The entries <paramref name="query"/> asks for, newest first.</summary>
    public async Task<IReadOnlyList<AuditEntry>> ReadAsync(AuditQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        await using var command = _dataSource.CreateCommand("""
            SELECT id, at, operator, action, tenant, source, result, reason, detail::text FROM audit_log
            WHERE ($1::text IS NULL OR tenant = $1) AND ($2::timestamptz IS NULL OR at >= $2)
            ORDER BY at DESC, id DESC LIMIT $3
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)query.Tenant ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)query.Since ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = Math.Max(0, query.Limit) });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var entries = new List<AuditEntry>();
        while (await reader.ReadAsync(cancellationToken))
        {
            using var detail = JsonDocument.Parse(reader.GetString(8));
            entries.Add(new AuditEntry(reader.GetInt64(0), reader.GetFieldValue<DateTimeOffset>(1), new AuditRecord(
                reader.GetString(2), reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetString(4), reader.GetString(5), reader.GetString(6),
                reader.IsDBNull(7) ? null : reader.GetString(7), detail.RootElement.Clone())));
        }

        return entries;
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    private static string? Shorten(string? reason) =>
        reason is { Length: > AuditRecord.MaxReasonLength } ? string.Concat(reason.AsSpan(0, AuditRecord.MaxReasonLength - 1), "…") : reason;
}
