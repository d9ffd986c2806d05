using Geo.Replication.Kafka;
using Geo.Schema;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Geo.Replication.Hosting;

/// <summary>Where a shard's changes come from.</summary>
public enum ReplicationSourceKind
{
    /// <summary>PostgreSQL logical decoding with pgoutput, straight from the source database (the embedded default).</summary>
    PgOutput,

    /// <summary>The topics of Debezium's PostgreSQL connector in Kafka.</summary>
    Kafka,
}

/// <summary>The replicator of one standby region (configuration section <c>Replication</c>).</summary>
public sealed class ReplicatorOptions
{
    /// <summary>The region this replicator runs in (the standby of its shards); names the slots it creates.</summary>
    public string Region { get; set; } = "";

    /// <summary>The shards this region stands by for, listed statically (they keep running whatever the directory says).</summary>
    public IList<ShardReplicationOptions> Shards { get; } = [];

    /// <summary>Discovery of the shards this region stands by for from the directory; off while its connection string is empty.</summary>
    public ReplicatorDirectoryOptions Directory { get; } = new();

    /// <summary>Seconds behind at which a shard's lag is reported as a warning (metrics, log, status).</summary>
    public double LagWarningSeconds { get; set; } = 5;

    /// <summary>At most this many row changes per replica transaction (whole source transactions are never split).</summary>
    public int MaxBatchChanges { get; set; } = 5000;

    /// <summary>Source transactions read ahead of the applier, per shard.</summary>
    public int QueueTransactions { get; set; } = 10_000;
}

/// <summary>
/// Directory-driven discovery (section <c>Replication:Directory</c>): every shard whose standby is this region and whose
/// state is <c>provisioning</c> or <c>active</c> gets a pgoutput stream from its owner region's server to this region's
/// server, started and stopped as the directory changes.
/// </summary>
public sealed class ReplicatorDirectoryOptions
{
    /// <summary>The directory database (schema <c>migrations/directory</c>); empty turns discovery off.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>
    /// Each region's PostgreSQL server by region id: an Npgsql connection string without a database (see
    /// <see cref="PlatformDatabases"/>). This replicator's own region is required (its replicas live there).
    /// </summary>
    public IDictionary<string, string> Servers { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>How often the directory is read even without a notification (the safety net under LISTEN).</summary>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>True when a directory is configured.</summary>
    public bool Enabled => !string.IsNullOrWhiteSpace(ConnectionString);
}

/// <summary>One shard's stream: where it comes from and which replica database it keeps current.</summary>
public sealed class ShardReplicationOptions
{
    /// <summary>The shard, <c>tenant@homeregion</c> (labels metrics and logs).</summary>
    public string Name { get; set; } = "";

    /// <summary>Where the changes come from.</summary>
    public ReplicationSourceKind Source { get; set; } = ReplicationSourceKind.PgOutput;

    /// <summary>The shard's database in its owner region (pgoutput: the stream's origin; always: what verify compares with).</summary>
    public string SourceConnectionString { get; set; } = "";

    /// <summary>The replica database, same name, in this region's PostgreSQL.</summary>
    public string ReplicaConnectionString { get; set; } = "";

    /// <summary>The logical replication slot (pgoutput); default <c>geo_&lt;db&gt;_to_&lt;region&gt;</c>.</summary>
    public string? SlotName { get; set; }

    /// <summary>The publication in the source database (pgoutput).</summary>
    public string Publication { get; set; } = PgOutput.ReplicationSlots.DefaultPublication;

    /// <summary>Create the replica database when missing and make it read-only to everyone but the applier.</summary>
    public bool PrepareReplica { get; set; } = true;

    /// <summary>Apply the tenant migrations to the replica before streaming (the local stack does; tests with their own schema do not).</summary>
    public bool ApplyTenantMigrations { get; set; }

    /// <summary>The Kafka source settings, when <see cref="Source"/> is <see cref="ReplicationSourceKind.Kafka"/>.</summary>
    public KafkaSourceOptions Kafka { get; set; } = new();
}

/// <summary>Validates <see cref="ReplicatorOptions"/> at start: a replicator with a broken shard list must not run.</summary>
internal sealed class ReplicatorOptionsValidator : IValidateOptions<ReplicatorOptions>
{
    public ValidateOptionsResult Validate(string? name, ReplicatorOptions options)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.Region))
        {
            errors.Add("Replication:Region is required (the standby region this replicator runs in)");
        }

        if (options.LagWarningSeconds <= 0)
        {
            errors.Add("Replication:LagWarningSeconds must be positive");
        }

        if (options.MaxBatchChanges < 1 || options.QueueTransactions < 1)
        {
            errors.Add("Replication:MaxBatchChanges and Replication:QueueTransactions must be at least 1");
        }

        ValidateDirectory(options, errors);
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < options.Shards.Count; i++)
        {
            var shard = options.Shards[i];
            var where = $"Replication:Shards:{i}";
            if (string.IsNullOrWhiteSpace(shard.Name) || !names.Add(shard.Name))
            {
                errors.Add($"{where}:Name is required and must be unique");
            }

            if (string.IsNullOrWhiteSpace(shard.ReplicaConnectionString))
            {
                errors.Add($"{where}:ReplicaConnectionString is required");
            }

            if (shard.Source == ReplicationSourceKind.PgOutput && string.IsNullOrWhiteSpace(shard.SourceConnectionString))
            {
                errors.Add($"{where}:SourceConnectionString is required for the pgoutput source");
            }

            if (shard.Source == ReplicationSourceKind.Kafka &&
                (string.IsNullOrWhiteSpace(shard.Kafka.BootstrapServers) || string.IsNullOrWhiteSpace(shard.Kafka.TopicPrefix) || string.IsNullOrWhiteSpace(shard.Kafka.GroupId)))
            {
                errors.Add($"{where}:Kafka needs BootstrapServers, TopicPrefix and GroupId");
            }

            if (shard.SlotName is { } slot && !PgOutput.SqlIdentifier.IsSimpleName(slot))
            {
                errors.Add($"{where}:SlotName must be lower-case letters, digits and '_'");
            }

            if (!PgOutput.SqlIdentifier.IsSimpleName(shard.Publication))
            {
                errors.Add($"{where}:Publication must be lower-case letters, digits and '_'");
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    // Messages name the offending keys, never their values: connection strings may hold passwords.
    private static void ValidateDirectory(ReplicatorOptions options, List<string> errors)
    {
        var directory = options.Directory;
        if (!directory.Enabled)
        {
            if (directory.Servers.Count > 0)
            {
                errors.Add("Replication:Directory:Servers is set but Replication:Directory:ConnectionString is not");
            }

            return;
        }

        if (!IsConnectionString(directory.ConnectionString!))
        {
            errors.Add("Replication:Directory:ConnectionString is not a valid Npgsql connection string");
        }

        if (directory.RefreshInterval <= TimeSpan.Zero)
        {
            errors.Add("Replication:Directory:RefreshInterval must be positive");
        }

        if (!string.IsNullOrWhiteSpace(options.Region) && !directory.Servers.ContainsKey(options.Region))
        {
            errors.Add($"Replication:Directory:Servers:{options.Region} is required: this region's PostgreSQL server, where the replicas live");
        }

        foreach (var (region, server) in directory.Servers)
        {
            if (!IsRegionId(region))
            {
                errors.Add($"Replication:Directory:Servers:{region}: '{region}' is not a region id (lower-case letters, digits and '-')");
            }

            if (string.IsNullOrWhiteSpace(server) || !IsConnectionString(server))
            {
                errors.Add($"Replication:Directory:Servers:{region} is not a valid Npgsql connection string");
            }
        }
    }

    private static bool IsConnectionString(string value)
    {
        try
        {
            _ = new NpgsqlConnectionStringBuilder(value);
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static bool IsRegionId(string region)
    {
        try
        {
            _ = ShardDatabase.Name("probe", region);
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
