using System.CommandLine;
using System.Text.Json;
using Geo.Ctl.LocalStack;
using Geo.Engines.Postgres;
using Geo.Replication.Kafka;
using Geo.Schema;
using Npgsql;

namespace Geo.Ctl.Replication;

/// <summary>
/// <c>geoctl debezium-config &lt;tenant@home&gt;</c>: prints the Kafka Connect configuration of Debezium's PostgreSQL
/// connector for a shard (the body of <c>POST /connectors</c>), listing the shard's replicated tables. The password
/// is a config-provider reference, never the password itself. See replication/docs/kafka-connect.md.
/// </summary>
internal static class DebeziumConfigCommand
{
    public static Command Create(Option<string> stateDir, TextWriter output, TextWriter error)
    {
        var shard = new Argument<string>("shard") { Description = "The shard: tenant@homeregion (e.g. acme@a)" };
        var host = new Option<string?>("--database-host") { Description = "The shard's PostgreSQL host as Kafka Connect reaches it (default: the local stack's)" };
        var port = new Option<int?>("--database-port") { Description = "Its port (default: the local stack's)" };
        var source = new Option<string?>("--source") { Description = "Connection string of the source database, to list its tables (default: the local stack's)" };
        var user = new Option<string>("--database-user") { Description = "The replication user Debezium connects as", DefaultValueFactory = _ => "debezium" };
        var command = new Command("debezium-config", "Print the Debezium PostgreSQL connector configuration (Kafka Connect) for a shard")
        {
            shard, host, port, source, user,
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

            try
            {
                var database = ShardDatabase.Name(name[..at], name[(at + 1)..]);
                var cluster = PostgresCluster.Open(new StackLayout(result.GetValue(stateDir)!).RegionPostgres(name[(at + 1)..]));
                var connection = result.GetValue(source) ?? cluster?.ConnectionString(database);
                if (connection is null)
                {
                    await error.WriteLineAsync("geoctl: pass --source, --database-host and --database-port, or start the local stack (geoctl up)");
                    return 2;
                }

                var tables = await Geo.Replication.PgOutput.ReplicationSlots.ListReplicatedTablesAsync(connection, cancellationToken);
                var body = DebeziumConnectorConfig.Create(new DebeziumConnectorSettings
                {
                    Database = database,
                    Host = result.GetValue(host) ?? "127.0.0.1",
                    Port = result.GetValue(port) ?? cluster?.Port ?? 5432,
                    User = result.GetValue(user)!,
                    Tables = tables,
                });
                await output.WriteLineAsync(body.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                return 0;
            }
            catch (Exception ex) when (ex is NpgsqlException or ArgumentException)
            {
                await error.WriteLineAsync($"geoctl: {ex.Message}");
                return 2;
            }
        });
        return command;
    }
}
