using Geo.Replication.Kafka;
using Microsoft.Extensions.Options;

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

    /// <summary>The shards this region stands by for.</summary>
    public IList<ShardReplicationOptions> Shards { get; } = [];

    /// <summary>Seconds behind at which a shard's lag is reported as a warning (metrics, log, status).</summary>
    public double LagWarningSeconds { get; set; } = 5;

    /// <summary>Where <c>/metrics</c>, <c>/health/live</c> and <c>/health/ready</c> listen; port 0 picks a free one.</summary>
    public string MetricsUrl { get; set; } = "http://127.0.0.1:9464";

    /// <summary>At most this many row changes per replica transaction (whole source transactions are never split).</summary>
    public int MaxBatchChanges { get; set; } = 5000;

    /// <summary>Source transactions read ahead of the applier, per shard.</summary>
    public int QueueTransactions { get; set; } = 10_000;
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
}
