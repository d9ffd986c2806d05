namespace Geo.Hosting;

/// <summary>A Geo service as its <c>Main</c> sees it (<see cref="GeoService.RunAsync"/>): run it, or check its configuration.</summary>
public interface IGeoServer : IAsyncDisposable
{
    /// <summary>The configuration files it was built from, in the order they apply.</summary>
    IReadOnlyList<string> ConfigurationFiles { get; }

    /// <summary>Runs until SIGTERM/SIGINT, then stops gracefully.</summary>
    Task RunAsync();

    /// <summary>Every problem of its configuration (<see cref="GeoService.CheckConfiguration"/>); empty when there is none.</summary>
    IReadOnlyList<string> CheckConfiguration();
}
