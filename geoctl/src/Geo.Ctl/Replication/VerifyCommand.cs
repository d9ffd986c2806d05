using System.CommandLine;
using Geo.Ctl.LocalStack;
using Geo.Engines.Postgres;
using Geo.Replication.Verification;
using Geo.Schema;
using Npgsql;

namespace Geo.Ctl.Replication;

/// <summary>
/// <c>geoctl verify &lt;tenant@home&gt;</c>: compares a shard's source database (its owner region, as the directory says:
/// the home region until a promotion) with its replica (the standby region) table by table at a common position — row counts and order-independent checksums —
/// and lists the tables and keys that differ. Exit 0 when consistent, 1 when not, 2 when it cannot compare.
/// </summary>
internal static class VerifyCommand
{
    public static Command Create(Option<string> stateDir, TextWriter output, TextWriter error)
    {
        var shard = new Argument<string>("shard") { Description = "The shard: tenant@homeregion (e.g. acme@a)" };
        var standby = new Option<string?>("--standby") { Description = "The standby region holding the replica (default: the directory's standby of the shard, else the local stack's other region)" };
        var source = new Option<string?>("--source") { Description = "Connection string of the source database (default: the local stack's)" };
        var replica = new Option<string?>("--replica") { Description = "Connection string of the replica database (default: the local stack's)" };
        var timeout = new Option<double>("--timeout") { Description = "Seconds to wait for the replica to reach the source's position", DefaultValueFactory = _ => 60 };
        var attempts = new Option<int>("--attempts") { Description = "Comparisons to try while the source keeps writing", DefaultValueFactory = _ => 3 };
        var command = new Command("verify", "Compare a shard's source and replica table by table (row counts and checksums at a common position)")
        {
            shard, standby, source, replica, timeout, attempts,
        };
        command.SetAction(async (ParseResult result, CancellationToken cancellationToken) =>
        {
            var name = result.GetValue(shard)!;
            var at = name.IndexOf('@', StringComparison.Ordinal);
            if (at <= 0 || at == name.Length - 1)
            {
                await error.WriteLineAsync("geoctl: the shard is tenant@homeregion (e.g. acme@a)");
                return 2;
            }

            var (tenant, home) = (name[..at], name[(at + 1)..]);
            var layout = new StackLayout(result.GetValue(stateDir)!);
            try
            {
                var database = ShardDatabase.Name(tenant, home);
                var (ownerRegion, directoryStandby) = await DirectionAsync(layout, new Geo.Directory.Shards.ShardKey(tenant, home), cancellationToken) ?? (home, null);
                var standbyRegion = result.GetValue(standby) ?? directoryStandby ?? OtherRegion(layout, ownerRegion);
                var sourceConnection = result.GetValue(source) ?? Local(layout, ownerRegion, database);
                var replicaConnection = result.GetValue(replica) ?? (standbyRegion is null ? null : Local(layout, standbyRegion, database));
                if (sourceConnection is null || replicaConnection is null)
                {
                    await error.WriteLineAsync("geoctl: pass --source and --replica (and --standby), or start the local stack (geoctl up), or describe a deployment in platform.json");
                    return 2;
                }

                var report = await ShardVerifier.VerifyAsync(sourceConnection, replicaConnection, TimeSpan.FromSeconds(result.GetValue(timeout)),
                    result.GetValue(attempts), cancellationToken);
                await output.WriteAsync(VerificationReportText.Render(report));
                return report.Consistent ? 0 : 1;
            }
            catch (Exception ex) when (ex is NpgsqlException or ArgumentException or Geo.Replication.ReplicationException or StackException)
            {
                await error.WriteLineAsync($"geoctl: {ex.Message}");
                return 2;
            }
        });
        return command;
    }

    /// <summary>The shard's owner and standby as the local stack's directory names them; null without a directory or shard.</summary>
    private static async Task<(string Owner, string? Standby)?> DirectionAsync(StackLayout layout, Geo.Directory.Shards.ShardKey key, CancellationToken cancellationToken)
    {
        if (layout.DirectoryConnectionString() is not { } directory)
        {
            return null;
        }

        try
        {
            await using var store = new Geo.Directory.Stores.Postgres.PostgresDirectoryStore(directory);
            return (await store.LoadAsync(cancellationToken)).Shards.FirstOrDefault(s => s.Key == key) is { } shard ? (shard.OwnerRegion, shard.StandbyRegion) : null;
        }
        catch (Exception ex) when (ex is NpgsqlException or Geo.Directory.DirectoryStoreException)
        {
            // No directory to ask (it is down): the home region and the other one, as before a promotion.
            return null;
        }
    }

    /// <summary>The database on a region's server: the local stack's, or the deployment's this folder describes (platform.json).</summary>
    private static string? Local(StackLayout layout, string region, string database) =>
        PostgresCluster.Open(layout.RegionPostgres(region))?.ConnectionString(database)
        ?? (DeploymentFile.Load(layout)?.Servers.TryGetValue(region, out var server) == true
            ? new NpgsqlConnectionStringBuilder(server) { Database = database }.ConnectionString
            : null);

    private static string? OtherRegion(StackLayout layout, string home)
    {
        var regions = Path.Combine(layout.Root, "regions");
        return System.IO.Directory.Exists(regions)
            ? System.IO.Directory.GetDirectories(regions).Select(Path.GetFileName).Where(r => r != home).Order(StringComparer.Ordinal).FirstOrDefault()
            : null;
    }
}
