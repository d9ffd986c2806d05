using System.Text.Json;
using Geo.Ctl.LocalStack;
using Geo.Engines.Postgres;
using Geo.Testing;

namespace Geo.Ctl.IntegrationTests;

/// <summary>
/// geoctl against a deployment: a state folder with platform.json (directory and region servers) and the key files
/// beside it, instead of a local stack. Here the "deployment" is a local stack's databases, reached only through the file.
/// </summary>
public sealed class DeploymentFileTests : GeoCtlRun
{
    public DeploymentFileTests()
        : base("deployment")
    {
    }

    [Fact]
    public async Task NasAddListAndConfig_ThroughPlatformJson_ActOnTheDeploymentAuditedUnderItsKey()
    {
        await Succeeds("up", "--subscribers", "10");
        var stack = new StackLayout(StateDir);
        var deployment = new StackLayout(Path.Combine(Path.GetDirectoryName(StateDir)!, "ops"));
        System.IO.Directory.CreateDirectory(deployment.Root);
        var servers = new[] { "a", "b" }.ToDictionary(r => r, r => PostgresCluster.Open(stack.RegionPostgres(r))!.ConnectionString());
        await File.WriteAllTextAsync(deployment.DeploymentFile, JsonSerializer.Serialize(new
        {
            directory = PostgresCluster.Open(stack.DirectoryPostgres)!.ConnectionString("geo_directory"),
            servers,
        }));
        File.Copy(stack.KeyringFile, deployment.KeyringFile);
        File.Copy(stack.OperatorKeyFile, deployment.OperatorKeyFile);

        await Ops(deployment, "nas", "add", "--tenant", "acme", "--address", "127.0.10.88", "--secret", "deployment-nas-secret", "--primary", "b", "--backup", "a", "--id", "bng-88");
        Output.GetStringBuilder().Clear();
        await Ops(deployment, "nas", "list", "--tenant", "acme");
        var list = Output.ToString();
        Output.GetStringBuilder().Clear();
        await Ops(deployment, "nas-config", "bng-88", "--tenant", "acme", "--format", "mikrotik");
        var config = Output.ToString();
        var audited = await Sql.QueryAsync<string>(PostgresCluster.Open(stack.DirectoryPostgres)!.ConnectionString("geo_directory"),
            "SELECT action || ' ' || operator FROM audit_log WHERE action = 'nas.add'");

        Assert.Contains("bng-88", list, StringComparison.Ordinal);
        Assert.Contains("127.0.10.88", list, StringComparison.Ordinal);
        // Home region b first, backup a second: the regions as the deployment's directory names them.
        var regions = config.Split('\n').Where(l => l.StartsWith("/radius add", StringComparison.Ordinal)).Select(l => l[(l.IndexOf("geo region ", StringComparison.Ordinal) + 11)..].TrimEnd('"')).ToList();
        Assert.Equal(["b", "a"], regions);
        Assert.DoesNotContain("deployment-nas-secret", config, StringComparison.Ordinal);
        Assert.Equal(["nas.add bootstrap"], audited);
        // The secret geoctl keeps for nas-config lands in the deployment's folder, not the stack's.
        Assert.True(File.Exists(deployment.NasSecretFile("bng-88")));
        Assert.False(File.Exists(stack.NasSecretFile("bng-88")));
    }

    [Fact]
    public async Task AnyPlatformCommand_BrokenPlatformJson_Exit2NamingTheFileAndWhatIsWrong()
    {
        var deployment = new StackLayout(Path.Combine(Path.GetDirectoryName(StateDir)!, "ops"));
        System.IO.Directory.CreateDirectory(deployment.Root);
        await File.WriteAllTextAsync(deployment.DeploymentFile, """{ "directory": "Host=dir;Database=geo_directory", "servers": { "a": "Hots=pg-a" } }""");

        var exit = await GeoCtlIn(deployment.Root, "nas", "list");

        Assert.Equal(2, exit);
        Assert.Contains("platform.json", Error.ToString(), StringComparison.Ordinal);
        Assert.Contains("\"servers\".\"a\" is not a valid connection string", Error.ToString(), StringComparison.Ordinal);
    }

    private async Task Ops(StackLayout deployment, params string[] args)
    {
        var code = await GeoCtlIn(deployment.Root, args);
        Assert.True(code == 0, $"geoctl {string.Join(' ', args)} (deployment) exited {code}:\n{Error}\n{Output}");
    }
}
