using Geo.Engines.Services;

namespace Geo.Deploy.Tests.Templates;

/// <summary>Runs a program's <c>--check-config</c> on a configuration file: exit 0 and a line on stdout when valid, exit 1 and one problem per line on stderr otherwise.</summary>
internal static class CheckConfig
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(1);

    /// <summary>The program a template configures, by its file name; null for a name that matches none.</summary>
    public static GeoProgram? ProgramFor(string template) => Path.GetFileName(template) switch
    {
        "geo-region.json.tftpl" => GeoProgram.RegionNode,
        "geo-router.json.tftpl" => GeoProgram.Router,
        var name when name.StartsWith("geo-replicator", StringComparison.Ordinal) && name.EndsWith(".json.tftpl", StringComparison.Ordinal) => GeoProgram.Replicator,
        _ => null,
    };

    public static Task<ChildProcessResult> RunAsync(GeoProgram program, string configFile)
    {
        var assembly = program.Locate();
        // From the program's own folder, as it is deployed: its appsettings.json is the base the file overrides.
        return ChildProcess.RunAsync("dotnet", [assembly, "--check-config", "--ConfigFile", configFile], Path.GetDirectoryName(assembly)!, Timeout);
    }
}
