namespace Geo.Schema.Migrations;

/// <summary>A shard as the directory lists it: where its writable source and its read-only replica live.</summary>
/// <param name="TenantId">The tenant.</param>
/// <param name="HomeRegion">The region the shard was created in (part of its database name).</param>
/// <param name="OwnerRegion">The region whose server holds the writable source database.</param>
/// <param name="StandbyRegion">The region whose server holds the read-only replica database, if the shard has one.</param>
/// <param name="State">The shard's state in the directory (<c>active</c>, <c>provisioning</c>, ...).</param>
/// <param name="DatabaseName">The database name, the same on the source and the replica.</param>
public sealed record ShardLocation(string TenantId, string HomeRegion, string OwnerRegion, string? StandbyRegion, string State, string DatabaseName);

/// <summary>What the directory database holds for a migration run.</summary>
/// <param name="Database">The directory database's name.</param>
/// <param name="SchemaVersion">The highest directory migration applied to it (0 when it has no migration history).</param>
/// <param name="Shards">Every shard, ordered by tenant and home region.</param>
public sealed record ShardDirectory(string Database, int SchemaVersion, IReadOnlyList<ShardLocation> Shards);

/// <summary>Which copy of a shard a database is.</summary>
public enum ShardDatabaseRole
{
    /// <summary>The read-only copy in the standby region; migrated first.</summary>
    Replica,

    /// <summary>The writable database in the owner region; migrated after its replica.</summary>
    Source,
}

/// <summary>How the migration of one shard database ended.</summary>
public enum ShardMigrationOutcome
{
    /// <summary>Pending migrations were applied.</summary>
    Migrated,

    /// <summary>Nothing was pending.</summary>
    UpToDate,

    /// <summary>Deliberately not touched; <see cref="ShardMigrationResult.Reason"/> says why.</summary>
    Skipped,

    /// <summary>Could not be migrated; <see cref="ShardMigrationResult.Reason"/> holds the error.</summary>
    Failed,
}

/// <summary>The outcome for one database of one shard.</summary>
/// <param name="Shard">The shard.</param>
/// <param name="Role">Replica or source.</param>
/// <param name="Region">The region whose server holds this database; null for the replica of a shard without a standby region.</param>
/// <param name="Outcome">How it ended.</param>
/// <param name="Applied">The migration files applied by this run, in order (empty unless <see cref="ShardMigrationOutcome.Migrated"/>).</param>
/// <param name="Reason">Why it was skipped, or the error; for a migrated replica, that it was created; null otherwise.</param>
public sealed record ShardMigrationResult(
    ShardLocation Shard, ShardDatabaseRole Role, string? Region, ShardMigrationOutcome Outcome, IReadOnlyList<string> Applied, string? Reason)
{
    /// <summary>The database name.</summary>
    public string Database => Shard.DatabaseName;
}

/// <summary>Every result of a run, in the order the databases were handled, with counts.</summary>
public sealed class ShardMigrationSummary(IReadOnlyList<ShardMigrationResult> results)
{
    /// <summary>One result per database: for each shard its replica, then its source.</summary>
    public IReadOnlyList<ShardMigrationResult> Results { get; } = results;

    /// <summary>Databases migrated or already up to date.</summary>
    public int Succeeded => Results.Count(r => r.Outcome is ShardMigrationOutcome.Migrated or ShardMigrationOutcome.UpToDate);

    /// <summary>Databases that could not be migrated.</summary>
    public int Failed => Results.Count(r => r.Outcome == ShardMigrationOutcome.Failed);

    /// <summary>Databases deliberately left alone.</summary>
    public int Skipped => Results.Count(r => r.Outcome == ShardMigrationOutcome.Skipped);
}
