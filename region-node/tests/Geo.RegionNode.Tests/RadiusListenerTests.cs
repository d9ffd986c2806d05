using System.Diagnostics.Metrics;
using System.Net;
using Geo.Hosting.Telemetry;
using Geo.RegionNode.Telemetry;
using Geo.RegionNode.Transport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Geo.RegionNode.Tests;

public sealed class RadiusListenerTests
{
    [Fact]
    public async Task Constructor_ReceiveBuffer_GrantedOrWarnedWithTheSysctlAndReported()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meters = services.GetRequiredService<IMeterFactory>();
        using var exporter = new PrometheusExporter(meters);
        var logger = new Warnings();

        await using var listener = new RadiusListener("auth", new IPEndPoint(IPAddress.Loopback, 0), 16, (_, _, _) => Task.CompletedTask, new Metrics(meters), logger);
        listener.Start(1);

        var granted = listener.ReceiveBufferGranted;
        Assert.Equal(!granted, logger.Messages.Any(m => m.Contains("sysctl -w net.core.rmem_max=8388608", StringComparison.Ordinal)));
        Assert.Contains($"geo_radius_receive_buffer_bytes{{port=\"auth\"}} {listener.ReceiveBufferBytes}\n", exporter.Render(), StringComparison.Ordinal);
        if (Environment.UserName == "root")
        {
            // The privileged option goes past net.core.rmem_max (the default caps a request at ~208 KiB; this machine's at 4 MiB).
            Assert.True(granted, $"as root the node should get {RadiusListener.RequestedBufferBytes} bytes, got {listener.ReceiveBufferBytes}");
        }
    }

    private sealed class Warnings : ILogger
    {
        public List<string> Messages { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= LogLevel.Warning)
            {
                lock (Messages)
                {
                    Messages.Add(formatter(state, exception));
                }
            }
        }
    }
}
