namespace Geo.Engines.Postgres;

/// <summary>How to create or reopen a private PostgreSQL cluster.</summary>
public sealed class PostgresClusterOptions
{
    /// <summary>The cluster's folder: its data directory, socket, configuration and log live below it.</summary>
    public required string Directory { get; init; }

    /// <summary>The loopback port; 0 asks the operating system for a free one (only on first creation).</summary>
    public int Port { get; init; }

    /// <summary>
    /// False turns fsync and synchronous commit off. Only for throwaway test clusters: never for the local
    /// stack, durability tests or benchmarks.
    /// </summary>
    public bool Durable { get; init; } = true;

    /// <summary>Extra server settings written to the cluster's configuration.</summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>();
}
