using System.Runtime.InteropServices;

namespace Geo.Deploy.Tests.Packages;

/// <summary>
/// The Debian packages as eng/package.sh builds them (from the solution's Release build), once for the test class, and
/// all of them unpacked with <c>dpkg -x</c> into one temporary root: the files a host gets, without installing them.
/// </summary>
public sealed class PackagesFixture : IAsyncLifetime
{
    /// <summary>The programs and their kind, as eng/debian/programs.tsv lists them.</summary>
    public static IReadOnlyList<(string Name, bool IsService)> Programs { get; } =
    [
        ("geo-region", true), ("geo-replicator", true), ("geo-router", true), ("geoctl", false), ("geo-migrate", false),
    ];

    private readonly string _folder = Directory.CreateTempSubdirectory("geo-packages-").FullName;

    public string Output => Path.Combine(_folder, "debs");

    /// <summary>Where every package is unpacked, as if installed at /.</summary>
    public string Root => Path.Combine(_folder, "root");

    public string Version { get; } = "0.0.1~test";

    /// <summary>The .NET the tests run on: installed programs find it through DOTNET_ROOT, as the runtime package's would.</summary>
    public static string DotnetRoot { get; } = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));

    public string Deb(string name) => Path.Combine(Output, $"{name}_{Version}_amd64.deb");

    public async Task InitializeAsync()
    {
        var build = await ChildProcess.RunAsync(Path.Combine(Repository.Root, "eng", "package.sh"),
            ["--no-build", "--version", Version, "--out", Output], Repository.Root, TimeSpan.FromMinutes(10));
        Assert.True(build.ExitCode == 0, $"eng/package.sh failed: {build}");
        Directory.CreateDirectory(Root);
        foreach (var (name, _) in Programs)
        {
            var unpack = await ChildProcess.RunAsync("dpkg", ["-x", Deb(name), Root], _folder, TimeSpan.FromMinutes(1));
            Assert.True(unpack.ExitCode == 0, $"dpkg -x {name}: {unpack}");
        }
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_folder, recursive: true);
        return Task.CompletedTask;
    }
}
