using Geo.Deploy.Tests.Templates;

namespace Geo.Deploy.Tests.Packages;

/// <summary>eng/package.sh's packages: their metadata and files, and the installed programs' check-config option.</summary>
public sealed class PackageTests(PackagesFixture packages) : IClassFixture<PackagesFixture>
{
    public static TheoryData<string> Programs => [.. PackagesFixture.Programs.Select(p => p.Name)];

    public static TheoryData<string> Services => [.. PackagesFixture.Programs.Where(p => p.IsService).Select(p => p.Name)];

    [Theory]
    [MemberData(nameof(Programs))]
    public async Task Info_EveryPackage_NamesItselfTheVersionAndTheRuntimeItNeeds(string name)
    {
        var info = await Dpkg("--info", name);

        Assert.Contains($"Package: {name}\n", info, StringComparison.Ordinal);
        Assert.Contains($"Version: {packages.Version}\n", info, StringComparison.Ordinal);
        Assert.Contains("Architecture: amd64\n", info, StringComparison.Ordinal);
        Assert.Matches(@"Depends: [^\n]*aspnetcore-runtime-10\.0", info);
    }

    [Theory]
    [MemberData(nameof(Programs))]
    public async Task Contents_EveryPackage_HoldsItsProgramAndNoBuildLeftovers(string name)
    {
        var contents = await Dpkg("--contents", name);

        Assert.Matches($@"-rwxr-xr-x root/root .* \./usr/lib/geo/{name}/{name}\n", contents);
        Assert.Contains($"./usr/lib/geo/{name}/{name}.dll", contents, StringComparison.Ordinal);
        Assert.DoesNotContain(".pdb", contents, StringComparison.Ordinal);
        Assert.DoesNotMatch(@"/runtimes/(win|osx)", contents);
    }

    [Theory]
    [MemberData(nameof(Services))]
    public async Task Contents_Service_HasAUnitAConffileAndTheGeoUser(string name)
    {
        var contents = await Dpkg("--contents", name);
        var conffiles = await Dpkg("--info", name, "conffiles");
        var postinst = await Dpkg("--info", name, "postinst");
        var unit = await File.ReadAllTextAsync(Path.Combine(packages.Root, "lib", "systemd", "system", $"{name}.service"));

        Assert.Contains($"./lib/systemd/system/{name}.service", contents, StringComparison.Ordinal);
        Assert.Equal($"/etc/geo/{name}.json", conffiles.Trim());
        Assert.Contains("adduser --system", postinst, StringComparison.Ordinal);
        Assert.Contains($"ExecStart=/usr/lib/geo/{name}/{name} --ConfigFile /etc/geo/{name}.json\n", unit, StringComparison.Ordinal);
        Assert.Contains($"ExecStartPre=/usr/lib/geo/{name}/{name} --check-config --ConfigFile /etc/geo/{name}.json\n", unit, StringComparison.Ordinal);
        foreach (var setting in new[] { "User=geo", "Restart=on-failure", "LimitNOFILE=", "NoNewPrivileges=yes", "ProtectSystem=strict", "CapabilityBoundingSet=\n" })
        {
            Assert.Contains(setting, unit, StringComparison.Ordinal);
        }

        Assert.DoesNotContain("@", unit, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("geo-region", "RegionNode:RegionId")]
    [InlineData("geo-replicator", "Replication:Region")]
    [InlineData("geo-router", "Router:DirectoryConnectionString")]
    public async Task CheckConfig_InstalledServiceWithItsShippedConffile_FailsNamingWhatToFillIn(string name, string missing)
    {
        var result = await RunInstalled(name, "--check-config", "--ConfigFile", Installed("etc", "geo", $"{name}.json"));

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains($"{name}: {missing}", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("geo-region")]
    [InlineData("geo-replicator")]
    [InlineData("geo-router")]
    public async Task CheckConfig_InstalledServiceWithItsConffileFilledIn_Passes(string name)
    {
        using var secrets = new SecretsFolder();
        var directory = $"Host=directory.example.internal;Database=geo_directory;Username=geo;Passfile={secrets.File("pgpass")}";
        string[] filledIn = name switch
        {
            "geo-region" =>
            [
                "--RegionNode:RegionId=a", $"--RegionNode:DirectoryConnectionString={directory}",
                $"--RegionNode:PostgresConnectionString=Host=pg-a.example.internal;Username=geo;Passfile={secrets.File("pgpass")}",
                $"--RegionNode:KeyringFile={secrets.File("keyring")}", $"--RegionNode:InterRegionSecretFile={secrets.File("inter-region-secret")}",
            ],
            "geo-replicator" => ["--Replication:Region=b", $"--Replication:Directory:ConnectionString={directory}",
                $"--Replication:Directory:Servers:b=Host=pg-b.example.internal;Username=geo;Passfile={secrets.File("pgpass")}"],
            _ => [$"--Router:DirectoryConnectionString={directory}"],
        };

        var result = await RunInstalled(name, ["--check-config", "--ConfigFile", Installed("etc", "geo", $"{name}.json"), .. filledIn]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains($"{name}: configuration OK", result.Output, StringComparison.Ordinal);
        Assert.Contains(Installed("etc", "geo", $"{name}.json"), result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Geoctl_InstalledOnThePath_Runs()
    {
        var result = await RunWithDotnet(Installed("usr", "bin", "geoctl"), ["--help"]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("geoctl", result.Output, StringComparison.Ordinal);
    }

    private string Installed(params string[] parts) => Path.Combine([packages.Root, .. parts]);

    private Task<ChildProcessResult> RunInstalled(string name, params string[] arguments) =>
        RunWithDotnet(Installed("usr", "lib", "geo", name, name), arguments);

    private static Task<ChildProcessResult> RunWithDotnet(string program, string[] arguments) =>
        ChildProcess.RunAsync(program, arguments, Path.GetTempPath(), TimeSpan.FromMinutes(1), new Dictionary<string, string> { ["DOTNET_ROOT"] = PackagesFixture.DotnetRoot });

    private async Task<string> Dpkg(string action, string name, params string[] rest)
    {
        var result = await ChildProcess.RunAsync("dpkg-deb", [action, packages.Deb(name), .. rest], Path.GetTempPath(), TimeSpan.FromMinutes(1));
        Assert.True(result.ExitCode == 0, $"dpkg-deb {action} {name}: {result}");
        return result.Output;
    }
}
