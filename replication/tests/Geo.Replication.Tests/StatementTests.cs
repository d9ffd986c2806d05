using System.Diagnostics.Metrics;
using Geo.Hosting.Telemetry;
using Geo.Replication.Applying;
using Geo.Replication.Changes;
using Geo.Replication.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Geo.Replication.Tests;

public sealed class StatementTests
{
    private static readonly ReplicaTable Plans = ReplicaTable.Create("public", "plans",
        [("id", "text"), ("display_name", "text"), ("download_kbps", "integer")], ["id"]);

    [Fact]
    public void Statement_Insert_CastsEachParameterToTheReplicaType()
    {
        var binding = new TableBinding(new ChangeTable("public", "plans", ["id", "display_name", "download_kbps"], [0]), Plans);

        Assert.Equal("INSERT INTO \"public\".\"plans\" (\"id\", \"display_name\", \"download_kbps\") VALUES ($1::text, $2::text, $3::integer)",
            binding.Statement('c', 0b111, false));
    }

    [Fact]
    public void Statement_UpdateWithUnchangedColumn_LeavesItOut()
    {
        var binding = new TableBinding(new ChangeTable("public", "plans", ["id", "display_name", "download_kbps"], [0]), Plans);

        Assert.Equal("UPDATE \"public\".\"plans\" SET \"id\" = $1::text, \"download_kbps\" = $2::integer WHERE \"id\" = $3::text",
            binding.Statement('u', 0b101, false));
    }

    [Fact]
    public void Statement_Delete_ByPrimaryKey()
    {
        var binding = new TableBinding(new ChangeTable("public", "plans", ["id", "display_name", "download_kbps"], [0]), Plans);

        Assert.Equal("DELETE FROM \"public\".\"plans\" WHERE \"id\" = $1::text", binding.Statement('d', 0, true));
    }

    [Fact]
    public void SetStatement_Insert_UnnestsTextArraysAndCastsEachColumn()
    {
        var binding = new TableBinding(new ChangeTable("public", "plans", ["id", "display_name", "download_kbps"], [0]), Plans);

        Assert.Equal("INSERT INTO \"public\".\"plans\" (\"id\", \"download_kbps\") SELECT geo_u.p1::text, geo_u.p2::integer " +
            "FROM unnest($1::text[], $2::text[]) AS geo_u(p1, p2)", binding.SetStatement('c', 0b101, false));
    }

    [Fact]
    public void SetStatement_Update_JoinsOnTheKeyArraysAfterTheValueArrays()
    {
        var binding = new TableBinding(new ChangeTable("public", "plans", ["id", "display_name", "download_kbps"], [0]), Plans);

        Assert.Equal("UPDATE \"public\".\"plans\" AS geo_r SET \"display_name\" = geo_u.p1::text, \"download_kbps\" = geo_u.p2::integer " +
            "FROM unnest($1::text[], $2::text[], $3::text[]) AS geo_u(p1, p2, k1) WHERE geo_r.\"id\" = geo_u.k1::text",
            binding.SetStatement('u', 0b110, true));
        Assert.NotEqual(binding.Statement('u', 0b110, true), binding.SetStatement('u', 0b110, true));
    }

    [Fact]
    public void SetStatement_Delete_ByKeyArray()
    {
        var binding = new TableBinding(new ChangeTable("public", "plans", ["id", "display_name", "download_kbps"], [0]), Plans);

        Assert.Equal("DELETE FROM \"public\".\"plans\" AS geo_r USING unnest($1::text[]) AS geo_u(k1) WHERE geo_r.\"id\" = geo_u.k1::text",
            binding.SetStatement('d', 0, true));
    }

    [Fact]
    public void TableBinding_ColumnMissingOnReplica_Throws()
    {
        var error = Assert.Throws<ReplicationException>(() =>
            new TableBinding(new ChangeTable("public", "plans", ["id", "new_column"], [0]), Plans));

        Assert.Contains("new_column", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_IncompleteOptions_ListsEveryProblem()
    {
        var options = new ReplicatorOptions { Region = "", LagWarningSeconds = 0 };
        options.Shards.Add(new ShardReplicationOptions { Name = "acme@a", SourceConnectionString = "", ReplicaConnectionString = "" });
        options.Shards.Add(new ShardReplicationOptions { Name = "acme@a", Source = ReplicationSourceKind.Kafka, ReplicaConnectionString = "Host=x", SlotName = "Bad-Name" });

        var result = new ReplicatorOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        var failures = result.Failures!.ToList();
        Assert.Contains(failures, f => f.Contains("Region", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("LagWarningSeconds", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("Shards:0:SourceConnectionString", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("Shards:1:Name", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("Shards:1:Kafka", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("Shards:1:SlotName", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_CompleteOptions_Succeeds()
    {
        var options = new ReplicatorOptions { Region = "b" };
        options.Shards.Add(new ShardReplicationOptions { Name = "acme@a", SourceConnectionString = "Host=a", ReplicaConnectionString = "Host=b" });

        Assert.True(new ReplicatorOptionsValidator().Validate(null, options).Succeeded);
    }

    [Fact]
    public void ReplicationMetrics_Shards_PrometheusTextWithShardLabels()
    {
        var shards = new[]
        {
            new ShardStatus("acme@a", ShardState.Streaming, 0.25, 1024, false, 10, 100, 0, DateTimeOffset.FromUnixTimeSeconds(1_700_000_000), "0/1", null),
            new ShardStatus("zen\"ith@b", ShardState.Retrying, double.NaN, null, true, 0, 0, 0, null, null, "down"),
        };

        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meters = services.GetRequiredService<IMeterFactory>();
        using var exporter = new PrometheusExporter(meters);
        ReplicationMetrics.Create(meters, () => shards, () => 5);

        var text = exporter.Render();

        Assert.Contains("# TYPE geo_replication_lag_seconds gauge\n", text, StringComparison.Ordinal);
        Assert.Contains("geo_replication_lag_seconds{shard=\"acme@a\"} 0.25\n", text, StringComparison.Ordinal);
        Assert.Contains("geo_replication_lag_bytes{shard=\"acme@a\"} 1024\n", text, StringComparison.Ordinal);
        Assert.Contains("geo_replication_lag_seconds{shard=\"zen\\\"ith@b\"} NaN\n", text, StringComparison.Ordinal);
        Assert.Contains("geo_replication_lag_warning{shard=\"zen\\\"ith@b\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("geo_replication_streaming{shard=\"acme@a\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("geo_replication_last_applied_commit_timestamp_seconds{shard=\"acme@a\"} 1700000000\n", text, StringComparison.Ordinal);
        Assert.Contains("geo_replication_applied_changes_total{shard=\"acme@a\"} 100\n", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE geo_replication_applied_changes_total counter\n", text, StringComparison.Ordinal);
        Assert.Contains("\ngeo_replication_lag_warning_threshold_seconds 5\n", text, StringComparison.Ordinal);
    }
}
