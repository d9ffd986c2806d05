using System.Net;
using System.ComponentModel.DataAnnotations;

namespace Geo.RegionNode;

/// <summary>Configuration of one region node (section <c>RegionNode</c>).</summary>
public sealed class RegionNodeOptions : IValidatableObject
{
    public const string Section = "RegionNode";

    /// <summary>The region this node serves, as in the directory (e.g. <c>a</c>).</summary>
    [Required]
    public string RegionId { get; set; } = "";

    /// <summary>Npgsql connection string of the directory database.</summary>
    [Required]
    public string DirectoryConnectionString { get; set; } = "";

    /// <summary>Npgsql connection string of this region's PostgreSQL cluster; the database is chosen per shard.</summary>
    [Required]
    public string PostgresConnectionString { get; set; } = "";

    /// <summary>host:port of this region's Redis; empty runs without the cache.</summary>
    public string RedisEndpoint { get; set; } = "";

    /// <summary>File holding Redis's password (AUTH), when it requires one; read at start, never logged or put on a command line.</summary>
    public string? RedisPasswordFile { get; set; }

    /// <summary>The key ring file that opens sealed passwords and NAS secrets.</summary>
    [Required]
    public string KeyringFile { get; set; } = "";

    /// <summary>
    /// File holding the secret shared by the regions' nodes for forwarding RADIUS to a shard's owner region.
    /// Empty disables forwarding (requests for shards owned elsewhere are then rejected or left unanswered).
    /// </summary>
    public string InterRegionSecretFile { get; set; } = "";

    /// <summary>
    /// Networks (CIDR, e.g. <c>10.2.0.0/20</c>) other regions' nodes send from, besides the address each region's RADIUS
    /// host resolves to: with several nodes behind a load balancer, forwards and heartbeats leave from each node's own
    /// address. Packets from them are still authenticated with the inter-region secret and a Message-Authenticator.
    /// </summary>
    public IList<string> PeerSourceNetworks { get; } = [];

    /// <summary>How long a forwarded request waits for the owner region before one retry (two tries in all).</summary>
    public TimeSpan ForwardTimeout { get; set; } = TimeSpan.FromMilliseconds(1500);

    /// <summary>
    /// The pause budget of a planned switchover: how long a request of a shard the directory has switching owners is held
    /// before it is routed as the directory then says (the new owner, or the old one if the switchover was aborted). One
    /// held longer gets no answer, and the NAS sends it again.
    /// </summary>
    public TimeSpan SwitchoverHold { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long a request for a shard stood by for here waits for its owner before this region answers it from the
    /// replica (authentication) or its survivability journal (accounting): one try, well inside a NAS's own timeout.
    /// </summary>
    public TimeSpan SurvivalForwardTimeout { get; set; } = TimeSpan.FromMilliseconds(400);

    /// <summary>Forwards in a row an owner region leaves unanswered before it is deemed down and its shards are answered here at once.</summary>
    [Range(1, 100)]
    public int OwnerDownAfterTimeouts { get; set; } = 2;

    /// <summary>
    /// How often a Status-Server heartbeat goes to each region owning a shard stood by for here (zero: none). Missed
    /// heartbeats deem the owner down as missed forwards do, so that it is known down before its NASes fail over here.
    /// </summary>
    public TimeSpan OwnerHeartbeatInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>While an owner region is deemed down, how often one request is still forwarded to it to learn that it is back.</summary>
    public TimeSpan OwnerProbeInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Database, in this region's PostgreSQL, of the survivability journal: accounting acknowledged here for shards owned
    /// elsewhere while their owner could not be reached, kept until the owner (or this region, once promoted) has it.
    /// </summary>
    public string JournalDatabase { get; set; } = "geo_journal";

    /// <summary>Address the RADIUS sockets bind to.</summary>
    public string RadiusBindAddress { get; set; } = "0.0.0.0";

    /// <summary>RADIUS authentication port; 0 binds a free port (tests).</summary>
    [Range(0, 65535)]
    public int AuthPort { get; set; } = 1812;

    /// <summary>RADIUS accounting port; 0 binds a free port (tests).</summary>
    [Range(0, 65535)]
    public int AcctPort { get; set; } = 1813;

    /// <summary>Datagrams waiting for a worker, per port. When full, new datagrams are dropped and counted (the NAS retransmits).</summary>
    [Range(16, 1_000_000)]
    public int QueueCapacity { get; set; } = 16_384;

    /// <summary>Access-Requests handled concurrently.</summary>
    [Range(1, 4096)]
    public int AuthWorkers { get; set; } = 256;

    /// <summary>Accounting-Requests in flight at once; each waits for its group commit, so this bounds the batch size too.</summary>
    [Range(1, 65_536)]
    public int AccountingWorkers { get; set; } = 2048;

    /// <summary>How long a response is kept to answer a retransmission without executing it again (RFC 5080).</summary>
    public TimeSpan DuplicateWindow { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Most requests remembered for duplicate detection: the window times the peak request rate (about 20 MiB of entries at the default).</summary>
    [Range(16, 16_777_216)]
    public int DuplicateCacheEntries { get; set; } = 262_144;

    /// <summary>Most accounting requests committed in one transaction (group commit).</summary>
    [Range(1, 10_000)]
    public int CommitMaxBatch { get; set; } = 500;

    /// <summary>
    /// Sessions, and subscribers' charging accounts, that each shard's group commit remembers as it wrote them so
    /// that it need not read them back (each up to this many; about 0.5 KiB apiece). 0 reads every one.
    /// </summary>
    [Range(0, 16_777_216)]
    public int CommitMemoryEntries { get; set; } = 131_072;

    /// <summary>
    /// How long a remembered account's plan is used before it is read again. A plan change through the API of any
    /// node applies at once; this bounds a change made around it (SQL by hand, or a lost cache message).
    /// </summary>
    public TimeSpan CommitMemoryPlanAge { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How often the node renews its owner lease on each shard it owns (in the directory).</summary>
    public TimeSpan LeaseRenewInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long an owner lease is valid after a renewal, by the directory's clock. A node that cannot renew stops
    /// acknowledging anything for the shard before it runs out; a promotion of the shard's standby waits for it.
    /// </summary>
    public TimeSpan LeaseTtl { get; set; } = TimeSpan.FromSeconds(4);

    /// <summary>
    /// Part of <see cref="LeaseTtl"/> a node gives up for its clock running at another rate than the directory's
    /// (and for a commit in flight): it fences itself this much before the directory deems the lease expired.
    /// </summary>
    [Range(0.0, 0.5)]
    public double LeaseDriftMargin { get; set; } = 0.1;

    /// <summary>How often the node reloads which shards it owns, their NAS and plans from the directory and shard databases.</summary>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long a node keeps an auth profile in its own memory. Changes evict it at once on the node that made
    /// them and, through Redis, on the others; this bounds how stale a copy can be if that message is lost.
    /// </summary>
    public TimeSpan LocalProfileTtl { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Most auth profiles a node keeps in its own memory (least recently used make way; about 0.4 KiB apiece). Enough for
    /// <see cref="LocalProfileTtl"/> times the peak login rate; beyond it a profile comes from Redis.
    /// </summary>
    [Range(16, 16_777_216)]
    public int LocalProfileEntries { get; set; } = 262_144;

    /// <summary>
    /// Most subscribers' home regions a node remembers (placements never move, so they stay until evicted; about
    /// 0.2 KiB apiece). A subscriber not remembered costs one directory query, shared with the others of its batch.
    /// </summary>
    [Range(16, 16_777_216)]
    public int PlacementCacheEntries { get; set; } = 524_288;

    /// <summary>The largest HTTP request body the API reads (bytes); a larger one is refused with 413. The API's bodies are a few hundred bytes.</summary>
    [Range(1024, 64 * 1024 * 1024)]
    public long MaxRequestBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>How long a cached auth profile lives in Redis.</summary>
    public TimeSpan ProfileCacheTtl { get; set; } = TimeSpan.FromMinutes(30);

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var network in PeerSourceNetworks)
        {
            if (!IPNetwork.TryParse(network, out _))
            {
                yield return new ValidationResult($"'{network}' is not a network in CIDR notation (10.2.0.0/20)", [nameof(PeerSourceNetworks)]);
            }
        }
    }
}
