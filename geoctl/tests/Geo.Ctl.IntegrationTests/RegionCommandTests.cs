using Geo.Schema.Migrations;
using Geo.Testing;

namespace Geo.Ctl.IntegrationTests;

/// <summary><c>geoctl region set|list</c> against a real directory database: how a deployment registers its regions.</summary>
public sealed class RegionCommandTests : GeoCtlRun
{
    public RegionCommandTests()
        : base("region")
    {
    }

    [Fact]
    public async Task SetThenList_TwoRegionsAndAChange_ListShowsTheLatestEndpoints()
    {
        var directory = await DirectoryAsync();

        await Succeeds("region", "set", "b", "--api-url", "http://10.20.1.10:8081", "--radius-host", "198.51.100.20", "--directory", directory);
        await Succeeds("region", "set", "a", "--api-url", "http://10.10.1.10:8081", "--radius-host", "198.51.100.10", "--name", "Paris", "--directory", directory);
        await Succeeds("region", "set", "b", "--api-url", "https://b.internal:8443", "--radius-host", "198.51.100.21", "--auth-port", "11812", "--acct-port", "11813", "--directory", directory);
        Output.GetStringBuilder().Clear();
        await Succeeds("region", "list", "--directory", directory);
        var lines = Output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal(3, lines.Length);
        Assert.Equal(["REGION", "NAME", "API", "RADIUS", "AUTH", "ACCT"], lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["a", "Paris", "http://10.10.1.10:8081/", "198.51.100.10", "1812", "1813"], lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["b", "b", "https://b.internal:8443/", "198.51.100.21", "11812", "11813"], lines[2].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        var audited = await Sql.QueryAsync<string>(directory, "SELECT action || ' ' || (detail->>'region') FROM audit_log ORDER BY id");
        Assert.Equal(["region.set b", "region.set a", "region.set b"], audited);
    }

    [Fact]
    public async Task Set_BadValues_Exit2NamingEveryProblemAndWritesNothing()
    {
        var directory = await DirectoryAsync();

        var exit = await GeoCtl("region", "set", "A_1", "--api-url", "ftp://x", "--radius-host", "not a host", "--auth-port", "70000", "--directory", directory);
        Output.GetStringBuilder().Clear();
        await Succeeds("region", "list", "--directory", directory);

        Assert.Equal(2, exit);
        var problems = Error.ToString();
        Assert.Contains("region id 'A_1'", problems, StringComparison.Ordinal);
        Assert.Contains("--api-url 'ftp://x'", problems, StringComparison.Ordinal);
        Assert.Contains("--radius-host 'not a host'", problems, StringComparison.Ordinal);
        Assert.Contains("--auth-port 70000", problems, StringComparison.Ordinal);
        Assert.Single(Output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task List_UnreachableDirectory_Exit1WithTheReason()
    {
        var exit = await GeoCtl("region", "list", "--directory", "Host=127.0.0.1;Port=1;Database=geo_directory;Timeout=2");

        Assert.Equal(1, exit);
        Assert.StartsWith("geoctl: ", Error.ToString(), StringComparison.Ordinal);
    }

    private static async Task<string> DirectoryAsync()
    {
        var connectionString = await (await TestPostgres.SharedAsync()).CreateDatabaseAsync("regions");
        await new MigrationRunner().ApplyAsync(connectionString, MigrationSet.Directory);
        return connectionString;
    }
}
