using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Geo.Hosting.Tests;

public sealed class CheckConfigTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("geo-hosting-tests-");

    public void Dispose() => _folder.Delete(recursive: true);

    [Fact]
    public void CreateBuilder_ConfigFile_AboveAppSettingsBelowTheCommandLine()
    {
        var file = Write("service.json", """{ "Probe": { "FromFile": "file", "Both": "file" }, "Logging": { "LogLevel": { "Default": "Debug" } } }""");

        var configuration = GeoService.CreateBuilder("geo-test", "http://127.0.0.1:0", ["--ConfigFile", file, "--Probe:Both=command-line"]).Configuration;

        Assert.Equal("file", configuration["Probe:FromFile"]);
        Assert.Equal("command-line", configuration["Probe:Both"]);
        Assert.Equal("Debug", configuration["Logging:LogLevel:Default"]);
        Assert.Contains(file, GeoService.ConfigurationFiles(configuration));
    }

    [Fact]
    public async Task RunAsync_CheckConfigWithProblems_Exit1EveryProblemOnErrorAndNeverRuns()
    {
        var server = new Probe(["Probe:Name: required", "Probe:File: /nope cannot be read"]);
        using var output = new StringWriter();
        using var error = new StringWriter();

        var exit = await GeoService.RunAsync("geo-test", ["--check-config", "--Probe:X=1"], args => server.Built(args), output, error);

        Assert.Equal(1, exit);
        Assert.False(server.Ran);
        Assert.Equal(["--Probe:X=1"], server.Arguments);
        Assert.Equal("", output.ToString());
        Assert.Equal(
            ["geo-test: Probe:Name: required", "geo-test: Probe:File: /nope cannot be read", "geo-test: 2 configuration problems"],
            error.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task RunAsync_CheckConfigClean_Exit0OneLineNamingTheFiles()
    {
        var server = new Probe([]);
        using var output = new StringWriter();
        using var error = new StringWriter();

        var exit = await GeoService.RunAsync("geo-test", ["--check-config"], args => server.Built(args), output, error);

        Assert.Equal(0, exit);
        Assert.Equal("geo-test: configuration OK (/etc/geo/geo-test.json)", output.ToString().Trim());
        Assert.Equal("", error.ToString());
    }

    [Fact]
    public async Task RunAsync_CheckConfigAndTheServerCannotBeBuilt_Exit1WithTheReason()
    {
        var file = Write("broken.json", "{ not json");
        using var output = new StringWriter();
        using var error = new StringWriter();

        var exit = await GeoService.RunAsync("geo-test", ["--check-config", "--ConfigFile", file],
            args =>
            {
                // Reading the broken file throws while the server is built, as in a real service.
                GeoService.CreateBuilder("geo-test", "http://127.0.0.1:0", args);
                return new Probe([]);
            }, output, error);

        Assert.Equal(1, exit);
        Assert.Contains("broken.json", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void CheckConfiguration_InvalidOptionsAndChecks_EveryProblemOnce()
    {
        var services = new ServiceCollection();
        services.AddOptionsWithValidateOnStart<ProbeOptions>().Validate(o => o.Port > 0, "Probe:Port must be positive");
        services.AddSingleton<IConfigurationCheck>(new FixedCheck(["Probe:Secret: missing"]));
        services.AddSingleton<IConfigurationCheck, OptionsReadingCheck>();
        using var provider = services.BuildServiceProvider();

        var problems = GeoService.CheckConfiguration(provider);

        // The check that reads the invalid options adds nothing: its options' failure is reported once, above.
        Assert.Equal(["Probe:Port must be positive", "Probe:Secret: missing"], problems);
    }

    [Theory]
    [InlineData("Host=pg;Username=geo", 0)]
    [InlineData("Host=pg;Usrname=geo", 1)]
    [InlineData("Username=geo", 1)]
    [InlineData("Host=pg;Passfile=/nonexistent/pgpass", 1)]
    [InlineData("", 1)]
    public void ConnectionString_Values_ProblemsFound(string value, int expected)
    {
        var problems = ConfigurationProblems.ConnectionString("Probe:Connection", value).ToList();

        Assert.Equal(expected, problems.Count);
        Assert.All(problems, p => Assert.StartsWith("Probe:Connection", p, StringComparison.Ordinal));
    }

    [Fact]
    public void ConnectionString_WithAPassword_NeverEchoesIt()
    {
        var problems = ConfigurationProblems.ConnectionString("Probe:Connection", "Host=pg;Password=s3cr3t-value;Bogus=1").ToList();

        Assert.Single(problems);
        Assert.DoesNotContain("s3cr3t-value", problems[0], StringComparison.Ordinal);
    }

    [Fact]
    public void ReadableFile_EmptyMissingAndPresent_OnlyThePresentOnePasses()
    {
        var present = Write("secret", "x");
        var empty = Write("empty", "");

        Assert.Empty(ConfigurationProblems.ReadableFile("Probe:File", present));
        Assert.Contains("is empty", Assert.Single(ConfigurationProblems.ReadableFile("Probe:File", empty)), StringComparison.Ordinal);
        Assert.Contains("cannot be read", Assert.Single(ConfigurationProblems.ReadableFile("Probe:File", Path.Combine(_folder.FullName, "absent"))), StringComparison.Ordinal);
        Assert.Empty(ConfigurationProblems.ReadableFile("Probe:File", "", required: false));
    }

    [Theory]
    [InlineData("redis:6379", true)]
    [InlineData("redis", false)]
    [InlineData("redis:70000", false)]
    public void Endpoint_Values_HostPortOnly(string value, bool valid) =>
        Assert.Equal(valid, !ConfigurationProblems.Endpoint("Probe:Endpoint", value).Any());

    private string Write(string name, string text)
    {
        var path = Path.Combine(_folder.FullName, name);
        File.WriteAllText(path, text);
        return path;
    }

    private sealed class ProbeOptions
    {
        public int Port { get; set; }
    }

    private sealed class FixedCheck(IReadOnlyList<string> problems) : IConfigurationCheck
    {
        public IEnumerable<string> Check() => problems;
    }

    private sealed class OptionsReadingCheck(IOptions<ProbeOptions> options) : IConfigurationCheck
    {
        public IEnumerable<string> Check() => [$"port {options.Value.Port}"];
    }

    /// <summary>A server that records how it was used; its configuration problems are given.</summary>
    private sealed class Probe(IReadOnlyList<string> problems) : IGeoServer
    {
        public bool Ran { get; private set; }

        public string[] Arguments { get; private set; } = [];

        public IReadOnlyList<string> ConfigurationFiles => ["/etc/geo/geo-test.json"];

        public Probe Built(string[] arguments)
        {
            Arguments = arguments;
            return this;
        }

        public Task RunAsync()
        {
            Ran = true;
            return Task.CompletedTask;
        }

        public IReadOnlyList<string> CheckConfiguration() => problems;

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
