using Geo.Router;

// geo-router --Router:DirectoryConnectionString="Host=...;Database=geo_directory" --urls=http://0.0.0.0:8080
await using var server = RouterServer.Create(args);
await server.RunAsync();
