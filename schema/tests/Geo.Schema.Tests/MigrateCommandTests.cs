using Geo.Migrate;

namespace Geo.Schema.Tests;

/// <summary>geo-migrate's argument checks: each of these stops before any database is contacted.</summary>
public sealed class MigrateCommandTests
{
    [Theory]
    [InlineData(new string[0], "give a migration set ('directory' or 'tenant') and --connection, or --all-shards")]
    [InlineData(new[] { "tenant", "--all-shards" }, "--all-shards always applies the tenant set")]
    [InlineData(new[] { "--all-shards", "--connection", "Host=x" }, "give no --connection with it")]
    [InlineData(new[] { "tenant", "--directory", "Host=x" }, "--directory, --server, --servers-file and --grant-roles go with --all-shards")]
    [InlineData(new[] { "tenant", "--server", "a=Host=x" }, "--directory, --server, --servers-file and --grant-roles go with --all-shards")]
    [InlineData(new[] { "--all-shards", "--directory", "Host=x", "--server", "a=Host=x", "--role-password-file", "geo_node=/dev/null" }, "--role-password-file goes with --grant-roles")]
    [InlineData(new[] { "shards", "--connection", "Host=x" }, "unknown migration set 'shards'")]
    [InlineData(new[] { "tenant", "--bogus" }, "--bogus")]
    public async Task RunAsync_BadArguments_Exit2WithReason(string[] args, string reason)
    {
        var run = await RunAsync(args);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains(reason, run.Error, StringComparison.Ordinal);
        Assert.Contains("geo-migrate --help", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_AllShardsWithoutDirectory_Exit2NamingOptionAndVariable()
    {
        var run = await RunAsync(["--all-shards", "--server", "a=Host=x"]);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("give --directory or set GEO_MIGRATE_DIRECTORY", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_AllShardsWithoutServers_Exit2()
    {
        var run = await RunAsync(["--all-shards", "--directory", "Host=x"]);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("give --server <region>=<conn> per region", run.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a", "--server 'a': expected <region>=<connection string>")]
    [InlineData("=Host=x", "expected <region>=<connection string>")]
    [InlineData("A=Host=x", "region id 'A' must be lower-case")]
    [InlineData("a=Hots=x", "--server a=...: Couldn't set hots")]
    public async Task RunAsync_BadServer_Exit2NamingIt(string server, string reason)
    {
        var run = await RunAsync(["--all-shards", "--directory", "Host=x", "--server", server]);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains(reason, run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_BadDirectoryConnectionString_Exit2()
    {
        var run = await RunAsync(["--all-shards", "--directory", "Hots=x", "--server", "a=Host=x"]);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--directory: Couldn't set hots", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_RegionGivenTwice_Exit2WithoutEchoingThePassword()
    {
        var run = await RunAsync(["--all-shards", "--directory", "Host=x", "--server", "a=Host=x;Password=hunter2", "--server", "a=Host=y;Password=hunter2"]);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("region 'a' is given twice", run.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_ServersFileMissing_Exit2()
    {
        var run = await RunAsync(["--all-shards", "--directory", "Host=x", "--servers-file", "/nonexistent/servers.txt"]);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("/nonexistent/servers.txt", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_Help_Exit0ShowingAllShards()
    {
        var run = await RunAsync(["--help"]);

        Assert.Equal((0, ""), (run.ExitCode, run.Error));
        Assert.Contains("--all-shards", run.Output, StringComparison.Ordinal);
        Assert.Contains("--server <region=conn>", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void ServerListAdd_ConnectionStringWithEqualsAndSemicolons_SplitAtFirstEquals()
    {
        var servers = new Dictionary<string, string>();

        ServerList.Add(servers, [("eu-west=Host=pg;Port=5433;Options=-c x=y", "test")]);

        Assert.Equal("Host=pg;Port=5433;Options=-c x=y", servers["eu-west"]);
    }

    [Fact]
    public async Task ServerListReadFile_CommentsAndBlankLines_SkippedAndLinesNumbered()
    {
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllLinesAsync(file, ["# servers", "a=Host=pg-a", "", "  b = Host=pg-b  ", "c"]);

            var entries = ServerList.ReadFile(file).ToList();

            Assert.Equal(["a=Host=pg-a", "b = Host=pg-b", "c"], entries.Select(e => e.Text));
            Assert.Equal($"{file} line 5", entries[2].Source);
            var servers = new Dictionary<string, string>();
            var error = Assert.Throws<FormatException>(() => ServerList.Add(servers, entries));
            Assert.StartsWith($"{file} line 5:", error.Message, StringComparison.Ordinal);
            Assert.Equal("Host=pg-b", servers["b"]);
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static async Task<(int ExitCode, string Output, string Error)> RunAsync(string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exitCode = await MigrateCommand.RunAsync(args, output, error, _ => null);
        return (exitCode, output.ToString(), error.ToString());
    }
}
