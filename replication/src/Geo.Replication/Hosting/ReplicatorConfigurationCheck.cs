using Geo.Hosting;
using Microsoft.Extensions.Options;

namespace Geo.Replication.Hosting;

/// <summary>What <c>geo-replicator --check-config</c> checks beyond <see cref="ReplicatorOptions"/>' validation: the connection strings it opens.</summary>
internal sealed class ReplicatorConfigurationCheck(IOptions<ReplicatorOptions> options) : IConfigurationCheck
{
    public IEnumerable<string> Check()
    {
        var replication = options.Value;
        var problems = ConfigurationProblems.ConnectionString("Replication:Directory:ConnectionString", replication.Directory.ConnectionString, required: false).ToList();
        foreach (var (region, server) in replication.Directory.Servers)
        {
            problems.AddRange(ConfigurationProblems.ConnectionString($"Replication:Directory:Servers:{region}", server));
        }

        for (var i = 0; i < replication.Shards.Count; i++)
        {
            var shard = replication.Shards[i];
            problems.AddRange(ConfigurationProblems.ConnectionString($"Replication:Shards:{i}:ReplicaConnectionString", shard.ReplicaConnectionString));
            problems.AddRange(ConfigurationProblems.ConnectionString($"Replication:Shards:{i}:SourceConnectionString", shard.SourceConnectionString,
                required: shard.Source == ReplicationSourceKind.PgOutput));
        }

        return problems;
    }
}
