using System.Globalization;
using Geo.Schema.Migrations;
using Geo.Testing;

namespace Geo.Schema.IntegrationTests;

public sealed class MigrationRunnerTests
{
    private readonly MigrationRunner _runner = new();

    [Theory]
    [InlineData("directory")]
    [InlineData("tenant")]
    public async Task Apply_FreshDatabase_AppliesEveryMigrationInOrder(string setName)
    {
        var set = MigrationSet.Named(setName);
        var database = await (await TestPostgres.SharedAsync()).CreateDatabaseAsync();

        var report = await _runner.ApplyAsync(database, set);

        Assert.Equal(set.Migrations.Select(m => m.FileName), report.Applied.Select(m => m.FileName));
        Assert.Equal(0, report.AlreadyApplied);
        Assert.Equal(set.Migrations.Select(m => m.Version), await Sql.QueryAsync<int>(database, "SELECT version FROM geo_schema_migrations ORDER BY version"));
    }

    [Fact]
    public async Task Apply_TenantSchema_EveryTableHasPrimaryKey()
    {
        var database = await (await TestPostgres.SharedAsync()).CreateDatabaseAsync();
        await _runner.ApplyAsync(database, MigrationSet.Tenant);

        var withoutKey = await Sql.QueryAsync<string>(database, """
            SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind = 'r'
              AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p')
            """);
        var tables = await Sql.QueryAsync<string>(database, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'");

        Assert.Empty(withoutKey);
        Assert.Superset(new HashSet<string> { "subscribers", "plans", "quota_buckets", "balances", "ledger_entries", "sessions", "cdrs", "nas_devices", "replication_progress" }, tables.ToHashSet());
    }

    [Fact]
    public async Task Apply_SecondRun_AppliesNothing()
    {
        var database = await (await TestPostgres.SharedAsync()).CreateDatabaseAsync();
        await _runner.ApplyAsync(database, MigrationSet.Tenant);

        var second = await _runner.ApplyAsync(database, MigrationSet.Tenant);

        Assert.Empty(second.Applied);
        Assert.Equal(MigrationSet.Tenant.Migrations.Count, second.AlreadyApplied);
        Assert.Equal(MigrationSet.Tenant.Migrations.Count, (await Sql.QueryAsync<long>(database, "SELECT count(*) FROM geo_schema_migrations")).Single());
    }

    [Fact]
    public async Task Apply_NewMigrationAdded_AppliesOnlyTheNewOne()
    {
        var database = await (await TestPostgres.SharedAsync()).CreateDatabaseAsync();
        var first = MigrationSet.Create("test", [Migration.Create("0001_t.sql", "CREATE TABLE t (id int PRIMARY KEY);")]);
        await _runner.ApplyAsync(database, first);

        var second = await _runner.ApplyAsync(database, MigrationSet.Create("test", [.. first.Migrations, Migration.Create("0002_u.sql", "ALTER TABLE t ADD COLUMN u int;")]));

        Assert.Equal(["0002_u.sql"], second.Applied.Select(m => m.FileName));
        Assert.Equal(1, second.AlreadyApplied);
    }

    [Fact]
    public async Task Apply_EditedAppliedMigration_RefusedNamingTheFile()
    {
        var database = await (await TestPostgres.SharedAsync()).CreateDatabaseAsync();
        await _runner.ApplyAsync(database, MigrationSet.Tenant);
        var original = MigrationSet.Tenant.Migrations[0];
        var edited = MigrationSet.Create("tenant",
            [Migration.Create(original.FileName, original.Sql + "\nCREATE TABLE sneaky (id int PRIMARY KEY);\n"), .. MigrationSet.Tenant.Migrations.Skip(1)]);

        var error = await Assert.ThrowsAsync<MigrationException>(() => _runner.ApplyAsync(database, edited));

        Assert.Contains(original.FileName, error.Message, StringComparison.Ordinal);
        Assert.Contains("changed after it was applied", error.Message, StringComparison.Ordinal);
        Assert.Empty(await Sql.QueryAsync<string>(database, "SELECT tablename FROM pg_tables WHERE tablename = 'sneaky'"));
    }

    [Fact]
    public async Task Apply_DatabaseNewerThanBuild_RefusedNamingTheUnknownFile()
    {
        var database = await (await TestPostgres.SharedAsync()).CreateDatabaseAsync();
        var newer = MigrationSet.Create("test", [Migration.Create("0001_a.sql", "SELECT 1;"), Migration.Create("0002_b.sql", "SELECT 2;")]);
        await _runner.ApplyAsync(database, newer);

        var error = await Assert.ThrowsAsync<MigrationException>(() =>
            _runner.ApplyAsync(database, MigrationSet.Create("test", [newer.Migrations[0]])));

        Assert.Contains("0002_b.sql", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Apply_FailingMigration_RolledBackAndNamed_EarlierOnesKept()
    {
        var database = await (await TestPostgres.SharedAsync()).CreateDatabaseAsync();
        var set = MigrationSet.Create("test",
        [
            Migration.Create("0001_ok.sql", "CREATE TABLE ok (id int PRIMARY KEY);"),
            Migration.Create("0002_broken.sql", "CREATE TABLE half (id int PRIMARY KEY); SELECT * FROM no_such_table;"),
        ]);

        var error = await Assert.ThrowsAsync<MigrationException>(() => _runner.ApplyAsync(database, set));

        Assert.Contains("0002_broken.sql", error.Message, StringComparison.Ordinal);
        Assert.Contains("no_such_table", error.Message, StringComparison.Ordinal);
        Assert.Equal([1], await Sql.QueryAsync<int>(database, "SELECT version FROM geo_schema_migrations"));
        Assert.Empty(await Sql.QueryAsync<string>(database, "SELECT tablename FROM pg_tables WHERE tablename = 'half'"));
    }

    [Fact]
    public async Task Apply_ConcurrentRunners_EveryMigrationAppliedExactlyOnce()
    {
        var database = await (await TestPostgres.SharedAsync()).CreateDatabaseAsync();
        // Each migration records its own execution; pg_sleep widens the window in which runners overlap.
        var migrations = new List<Migration> { Migration.Create("0001_runs.sql", "CREATE TABLE runs (version int NOT NULL);") };
        for (var v = 2; v <= 8; v++)
        {
            var version = v.ToString(CultureInfo.InvariantCulture);
            migrations.Add(Migration.Create($"{v:D4}_step.sql", $"SELECT pg_sleep(0.02); INSERT INTO runs VALUES ({version});"));
        }

        var set = MigrationSet.Create("test", migrations);
        using var start = new Barrier(4);
        var runners = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            start.SignalAndWait();
            return await new MigrationRunner().ApplyAsync(database, set);
        }));

        var reports = await Task.WhenAll(runners);

        Assert.Equal(set.Migrations.Count, reports.Sum(r => r.Applied.Count));
        Assert.Equal(Enumerable.Range(2, 7), await Sql.QueryAsync<int>(database, "SELECT version FROM runs ORDER BY version"));
        Assert.Equal(set.Migrations.Select(m => m.Version), await Sql.QueryAsync<int>(database, "SELECT version FROM geo_schema_migrations ORDER BY version"));
    }

    [Fact]
    public async Task Apply_ConcurrentRunnersOnRealTenantSet_BothSucceedOnceEach()
    {
        var database = await (await TestPostgres.SharedAsync()).CreateDatabaseAsync();

        var reports = await Task.WhenAll(
            Task.Run(() => new MigrationRunner().ApplyAsync(database, MigrationSet.Tenant)),
            Task.Run(() => new MigrationRunner().ApplyAsync(database, MigrationSet.Tenant)));

        Assert.Equal(MigrationSet.Tenant.Migrations.Count, reports.Sum(r => r.Applied.Count));
    }
}
