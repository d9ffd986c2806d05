namespace Geo.Engines.Services;

/// <summary>
/// One of Geo's programs (geo-region, geo-router, geo-replicator, geoctl) and where its build lives. Each program runs
/// from its own folder, so that its content root, appsettings.json and dependencies are its own.
/// </summary>
public sealed class GeoProgram
{
    /// <summary>The environment variable naming a folder that holds the programs (<c>DIR/geo-region.dll</c> or <c>DIR/geo-region/geo-region.dll</c>).</summary>
    public const string ProgramsFolderVariable = "GEO_PROGRAMS_DIR";

    private GeoProgram(string assemblyName, string projectName)
    {
        AssemblyName = assemblyName;
        ProjectName = projectName;
    }

    public static GeoProgram RegionNode { get; } = new("geo-region", "Geo.RegionNode.Host");

    public static GeoProgram Router { get; } = new("geo-router", "Geo.Router.Host");

    public static GeoProgram Replicator { get; } = new("geo-replicator", "Geo.Replication.Host");

    public static GeoProgram Ctl { get; } = new("geoctl", "Geo.Ctl.Host");

    public string AssemblyName { get; }

    public string ProjectName { get; }

    /// <summary>
    /// The program's entry assembly: in <see cref="ProgramsFolderVariable"/>'s folder when it is set; else beside the
    /// calling program, or in a folder of its own beside the caller's (the packages' <c>/usr/lib/geo/&lt;program&gt;/</c>); else in the build output beside the caller's
    /// (<c>artifacts/bin/&lt;project&gt;/&lt;configuration&gt;/</c>).
    /// </summary>
    public string Locate()
    {
        var candidates = Candidates().ToList();
        return candidates.FirstOrDefault(File.Exists)
            ?? throw new EngineException($"{AssemblyName} was not found (looked for {string.Join(", ", candidates)}); build the solution (eng/build.sh) or set {ProgramsFolderVariable}");
    }

    private IEnumerable<string> Candidates()
    {
        var file = AssemblyName + ".dll";
        if (Environment.GetEnvironmentVariable(ProgramsFolderVariable) is { Length: > 0 } folder)
        {
            yield return Path.Combine(folder, file);
            yield return Path.Combine(folder, AssemblyName, file);
            yield break;
        }

        var here = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory));
        yield return Path.Combine(here.FullName, file);
        if (here.Parent is { } parent)
        {
            // The packages' layout: /usr/lib/geo/<program>/, each program in a folder of its own.
            yield return Path.Combine(parent.FullName, AssemblyName, file);
        }

        if (here.Parent?.Parent is { Name: "bin" } bin)
        {
            yield return Path.Combine(bin.FullName, ProjectName, here.Name, file);
        }
    }
}
