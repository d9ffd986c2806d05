using Geo.Hosting;
using Geo.Provisioning.Recovery;
using Geo.Replication.Hosting;
using Geo.Replication.Kafka;

// Socket completions run on the socket event thread instead of hopping to the thread pool: the replicator's work is
// a few long streams (a replication connection in, an applier connection out, per shard) whose continuations never
// block, and the hop cost it about 40 % of its CPU (thread-pool wake-ups). Read once, when the first socket is
// used, so it must be set before anything connects; an operator's own setting wins.
if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") is null)
{
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
}

// geo-replicator: keeps the replica of every shard this region stands by for current. See ReplicatorServer.
// With section Dr configured, it also promotes those shards automatically when their owner is lost (AutoPromoter).
// geo-replicator [--ConfigFile /etc/geo/geo-replicator.json] [--check-config]
return await GeoService.RunAsync("geo-replicator", args, a => ReplicatorServer.Create(a, services: services => services.AddKafkaSource().AddAutoPromotion()));
