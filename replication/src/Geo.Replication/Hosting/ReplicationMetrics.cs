using System.Diagnostics.Metrics;

namespace Geo.Replication.Hosting;

/// <summary>The replicator's instruments: per shard, read from the runtime's status at each scrape.</summary>
internal static class ReplicationMetrics
{
    public static Meter Create(IMeterFactory meters, Func<IReadOnlyList<ShardStatus>> status, Func<double> warningSeconds)
    {
        var meter = meters.Create("Geo.Replication");
        Gauge("geo_replication_lag_seconds", "Seconds the shard's replica is behind its source (oldest unapplied source commit).", s => s.LagSeconds);
        Gauge("geo_replication_lag_bytes", "WAL bytes between the source's current position and what the replica confirmed.", s => s.LagBytes ?? double.NaN);
        Gauge("geo_replication_lag_warning", "1 when the shard's lag exceeds the warning threshold.", s => s.LagWarning ? 1 : 0);
        Gauge("geo_replication_streaming", "1 while the shard's stream is applying changes.", s => s.State == ShardState.Streaming ? 1 : 0);
        Counter("geo_replication_applied_transactions_total", "Source transactions applied to the replica.", s => s.AppliedTransactions);
        Counter("geo_replication_applied_changes_total", "Row changes applied to the replica.", s => s.AppliedChanges);
        Counter("geo_replication_missing_rows_total", "Updates and deletes that found no row on the replica (divergence).", s => s.MissingRows);
        Gauge("geo_replication_last_applied_commit_timestamp_seconds", "Source commit time of the last applied transaction (Unix seconds).",
            s => s.LastAppliedCommitTime is { } t ? t.ToUnixTimeMilliseconds() / 1000.0 : double.NaN);
        meter.CreateObservableGauge("geo_replication_lag_warning_threshold_seconds", () => warningSeconds(), description: "The lag warning threshold.");
        return meter;

        void Gauge(string name, string help, Func<ShardStatus, double> value) =>
            meter.CreateObservableGauge(name, () => PerShard(value), description: help);

        void Counter(string name, string help, Func<ShardStatus, long> value) =>
            meter.CreateObservableCounter(name, () => PerShard(s => value(s)), description: help);

        IEnumerable<Measurement<double>> PerShard(Func<ShardStatus, double> value) =>
            status().Select(s => new Measurement<double>(value(s), new KeyValuePair<string, object?>("shard", s.Shard)));
    }
}
