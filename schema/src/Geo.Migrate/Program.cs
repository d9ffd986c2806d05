using Geo.Migrate;

return await MigrateCommand.RunAsync(args, Console.Out, Console.Error, Environment.GetEnvironmentVariable);
