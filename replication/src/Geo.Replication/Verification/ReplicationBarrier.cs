using Npgsql;

namespace Geo.Replication.Verification;

/// <summary>
/// A marker row in <c>replication_markers</c> (migration 0004) committed on the source: the replica is a consistent prefix,
/// so once it holds the marker every earlier source commit is applied.
/// </summary>
public static class ReplicationBarrier
{
    /// <summary>Commits a new marker on the source (and removes markers older than an hour); returns its id.</summary>
    public static async Task<Guid> EmitAsync(string sourceConnectionString, CancellationToken cancellationToken = default)
    {
        var id = Guid.CreateVersion7();
        await using var connection = new NpgsqlConnection(sourceConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            "DELETE FROM replication_markers WHERE written_at < now() - interval '1 hour'; INSERT INTO replication_markers (id) VALUES (@id)", connection);
        command.Parameters.AddWithValue("id", id);
        await command.ExecuteNonQueryAsync(cancellationToken);
        return id;
    }

    /// <summary>True when the replica holds the marker.</summary>
    public static async Task<bool> ReplicaHasAsync(string replicaConnectionString, Guid marker, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var connection = new NpgsqlConnection(replicaConnectionString);
            await connection.OpenAsync(cancellationToken);
            await using var command = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM replication_markers WHERE id = @id)", connection);
            command.Parameters.AddWithValue("id", marker);
            return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
        }
        catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.InvalidCatalogName or PostgresErrorCodes.UndefinedTable)
        {
            // The replica database (or its schema) is not there yet.
            return false;
        }
    }

    /// <summary>Commits a marker and waits until the replica holds it; false when <paramref name="timeout"/> passes first.</summary>
    public static async Task<bool> WaitForReplicaAsync(string sourceConnectionString, string replicaConnectionString, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var marker = await EmitAsync(sourceConnectionString, cancellationToken);
        var deadline = DateTime.UtcNow + timeout;
        while (!await ReplicaHasAsync(replicaConnectionString, marker, cancellationToken))
        {
            if (DateTime.UtcNow >= deadline)
            {
                return false;
            }

            await Task.Delay(20, cancellationToken);
        }

        return true;
    }
}
