using Geo.Directory;
using Geo.Directory.Regions;

namespace Geo.Router.Hosting;

/// <summary>Loads the directory before the router takes requests, then starts the region health checks.</summary>
internal sealed class DirectoryHostedService(DirectoryCache directory, RegionHealthMonitor health) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await directory.StartAsync(cancellationToken);
        health.Start();
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
