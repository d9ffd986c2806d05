using System.CommandLine;

// Each benchmark lives in its feature folder and contributes one subcommand here.
var root = new RootCommand("geo-load: Geo's load generators and benchmarks; each prints its figures");
root.Subcommands.Add(Geo.LoadTests.Radius.RadiusBenchmark.Create());
root.Subcommands.Add(Geo.LoadTests.Router.RouterBenchmark.Create());
root.Subcommands.Add(Geo.LoadTests.Replication.ReplicationBenchmark.Create());
root.Subcommands.Add(Geo.LoadTests.Compare.CompareCommand.Create());
return await root.Parse(args).InvokeAsync();
