using Geo.Replication.Hosting;

// geo-replicator: keeps the replica of every shard this region stands by for current. See ReplicatorServer.
await using var server = ReplicatorServer.Create(args);
await server.RunAsync();
