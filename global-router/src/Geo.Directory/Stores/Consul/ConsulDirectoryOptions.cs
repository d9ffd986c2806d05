namespace Geo.Directory.Stores.Consul;

/// <summary>
/// Where the Consul directory is and how it is laid out. A class, not a record: a generated ToString would print
/// the ACL token.
/// </summary>
public sealed class ConsulDirectoryOptions
{
    /// <summary>The local Consul agent's HTTP API.</summary>
    public Uri Address { get; set; } = new("http://127.0.0.1:8500");

    /// <summary>ACL token sent as <c>X-Consul-Token</c>; never logged.</summary>
    public string? Token { get; set; }

    /// <summary>Datacenter to query (default: the agent's).</summary>
    public string? Datacenter { get; set; }

    /// <summary>Prefix of every key Geo writes (see <see cref="ConsulDirectoryStore"/> for the layout).</summary>
    public string KeyPrefix { get; set; } = "geo/";

    /// <summary>Catalog service every region node registers as (with meta <c>geo-region</c>, <c>radius-auth-port</c>, <c>radius-acct-port</c>).</summary>
    public string RegionService { get; set; } = "geo-region";

    /// <summary>How long a blocking query waits for a change before Consul answers unchanged.</summary>
    public TimeSpan WaitTime { get; set; } = TimeSpan.FromSeconds(30);
}
