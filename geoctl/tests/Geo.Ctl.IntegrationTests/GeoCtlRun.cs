using Geo.Engines;
using Geo.Testing;
using Npgsql;

namespace Geo.Ctl.IntegrationTests;

/// <summary>
/// One test's local stack folder and geoctl runs against it, through the command line parser; whatever happens to
/// the test process, no process of the stack outlives it.
/// </summary>
public abstract class GeoCtlRun : IDisposable
{
    private readonly Reaper _reaper;

    protected GeoCtlRun(string folder)
    {
        StateDir = Path.Combine(TestFolders.Create(folder), ".geo");
        _reaper = StackReaper.Start(Path.GetDirectoryName(StateDir)!);
    }

    protected string StateDir { get; }

    protected StringWriter Output { get; } = new();

    protected StringWriter Error { get; } = new();

    public void Dispose()
    {
        NpgsqlConnection.ClearAllPools();
        _reaper.Dispose();
        Output.Dispose();
        Error.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Runs geoctl and asserts that it succeeded, showing what it printed when it did not.</summary>
    protected async Task Succeeds(params string[] args)
    {
        var code = await GeoCtl(args);
        Assert.True(code == 0, $"geoctl {string.Join(' ', args)} exited {code}:\n{Error}\n{Output}");
    }

    protected Task<int> GeoCtl(params string[] args) => GeoCtlIn(StateDir, args);

    /// <summary>Runs geoctl on another state folder than the test's own.</summary>
    protected Task<int> GeoCtlIn(string stateDir, params string[] args) =>
        GeoCtlCommand.Create(Output, Error).Parse([.. args, "--state-dir", stateDir]).InvokeAsync();
}
