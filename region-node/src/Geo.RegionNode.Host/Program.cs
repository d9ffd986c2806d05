using Geo.RegionNode;

await using var server = RegionNodeServer.Create(args);
await server.RunAsync();
