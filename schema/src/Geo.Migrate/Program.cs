using System.CommandLine;
using Geo.Schema.Migrations;
using Microsoft.Extensions.Logging;
using Npgsql;

var set = new Argument<string>("set") { Description = "Which migrations: 'directory' or 'tenant'" };
set.AcceptOnlyFromAmong("directory", "tenant");
var connection = new Option<string>("--connection")
{
    Description = "Npgsql connection string of the database to migrate (default: $GEO_MIGRATE_CONNECTION)",
    DefaultValueFactory = _ => Environment.GetEnvironmentVariable("GEO_MIGRATE_CONNECTION") ?? "",
};

var root = new RootCommand("geo-migrate: apply pending schema migrations, in order, each in its own transaction") { set, connection };
root.SetAction(async (result, cancellationToken) =>
{
    var connectionString = result.GetValue(connection);
    if (string.IsNullOrWhiteSpace(connectionString))
    {
        await Console.Error.WriteLineAsync("geo-migrate: give --connection or set GEO_MIGRATE_CONNECTION");
        return 2;
    }

    using var logging = LoggerFactory.Create(b => b.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; }));
    try
    {
        var migrations = MigrationSet.Named(result.GetValue(set)!);
        var report = await new MigrationRunner(logging.CreateLogger<MigrationRunner>()).ApplyAsync(connectionString, migrations, cancellationToken);
        Console.WriteLine($"{report.Database}: {report.Applied.Count} applied, {report.AlreadyApplied} already applied; {migrations.Name} schema at version {migrations.LatestVersion}");
        return 0;
    }
    catch (Exception ex) when (ex is MigrationException or NpgsqlException or ArgumentException)
    {
        await Console.Error.WriteLineAsync($"geo-migrate: {ex.Message}");
        return 1;
    }
});

return await root.Parse(args).InvokeAsync();
