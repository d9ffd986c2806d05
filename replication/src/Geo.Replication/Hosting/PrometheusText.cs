using System.Globalization;
using System.Text;

namespace Geo.Replication.Hosting;

/// <summary>The Prometheus text exposition of the replicator's shards (no client library: a handful of gauges and counters).</summary>
internal static class PrometheusText
{
    public static string Render(IReadOnlyList<ShardStatus> shards, double warningSeconds)
    {
        var text = new StringBuilder();
        Family(text, "geo_replication_lag_seconds", "gauge", "Seconds the shard's replica is behind its source (oldest unapplied source commit).", shards, s => s.LagSeconds);
        Family(text, "geo_replication_lag_bytes", "gauge", "WAL bytes between the source's current position and what the replica confirmed.", shards, s => s.LagBytes ?? double.NaN);
        Family(text, "geo_replication_lag_warning", "gauge", "1 when the shard's lag exceeds the warning threshold.", shards, s => s.LagWarning ? 1 : 0);
        Family(text, "geo_replication_streaming", "gauge", "1 while the shard's stream is applying changes.", shards, s => s.State == ShardState.Streaming ? 1 : 0);
        Family(text, "geo_replication_applied_transactions_total", "counter", "Source transactions applied to the replica.", shards, s => s.AppliedTransactions);
        Family(text, "geo_replication_applied_changes_total", "counter", "Row changes applied to the replica.", shards, s => s.AppliedChanges);
        Family(text, "geo_replication_missing_rows_total", "counter", "Updates and deletes that found no row on the replica (divergence).", shards, s => s.MissingRows);
        Family(text, "geo_replication_last_applied_commit_timestamp_seconds", "gauge", "Source commit time of the last applied transaction (Unix seconds).", shards,
            s => s.LastAppliedCommitTime is { } t ? t.ToUnixTimeMilliseconds() / 1000.0 : double.NaN);
        text.Append("# HELP geo_replication_lag_warning_threshold_seconds The lag warning threshold.\n");
        text.Append("# TYPE geo_replication_lag_warning_threshold_seconds gauge\n");
        text.Append("geo_replication_lag_warning_threshold_seconds ").Append(Number(warningSeconds)).Append('\n');
        return text.ToString();
    }

    private static void Family(StringBuilder text, string name, string type, string help, IReadOnlyList<ShardStatus> shards, Func<ShardStatus, double> value)
    {
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
        text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
        foreach (var shard in shards)
        {
            text.Append(name).Append("{shard=\"").Append(Escape(shard.Shard)).Append("\"} ").Append(Number(value(shard))).Append('\n');
        }
    }

    private static string Number(double value) => double.IsNaN(value) ? "NaN" : value.ToString("R", CultureInfo.InvariantCulture);

    private static string Escape(string label) =>
        label.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
