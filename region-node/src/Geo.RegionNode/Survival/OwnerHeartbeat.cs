using System.Net;
using System.Security.Cryptography;
using Geo.Radius;
using Geo.Radius.Security;
using Geo.RegionNode.Shards;
using Geo.RegionNode.Telemetry;
using Geo.RegionNode.Transport;
using Microsoft.Extensions.Options;

namespace Geo.RegionNode.Survival;

/// <summary>
/// Sends a Status-Server (RFC 5997), signed with the inter-region secret, every
/// <see cref="RegionNodeOptions.OwnerHeartbeatInterval"/> to each region that owns a shard this region stands by for.
/// Heartbeats left unanswered for <see cref="RegionNodeOptions.SurvivalForwardTimeout"/> count towards deeming the
/// owner down (<see cref="OwnerHealth.HeartbeatMissed"/>), so that a lost owner is known down within about a second:
/// before its NASes, which wait out their own timeouts on it, fail over to this region, whose first answers then come
/// from the replica at once instead of after a forward's wait.
/// </summary>
internal sealed partial class OwnerHeartbeat(
    IOptions<RegionNodeOptions> options, ShardCatalog catalog, RegionForwarder forwarder, OwnerHealth owners, Metrics metrics, TimeProvider time,
    ILogger<OwnerHeartbeat> logger) : BackgroundService
{
    private readonly RegionNodeOptions _options = options.Value;
    private readonly Counter _answered = metrics.Counter("geo_owner_heartbeats_total", "Heartbeats (Status-Server) to the owner regions of the shards stood by for here, by outcome", "outcome=\"answered\"");
    private readonly Counter _missed = metrics.Counter("geo_owner_heartbeats_total", "Heartbeats (Status-Server) to the owner regions of the shards stood by for here, by outcome", "outcome=\"missed\"");

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (forwarder.Secret is not { } secret || _options.OwnerHeartbeatInterval <= TimeSpan.Zero)
        {
            return;
        }

        var pending = new List<Task>();
        using var client = new RadiusClient(IPAddress.Parse(_options.RadiusBindAddress));
        try
        {
            await catalog.FirstLoad.WaitAsync(stoppingToken);
            using var timer = new PeriodicTimer(_options.OwnerHeartbeatInterval, time);
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                pending.RemoveAll(t => t.IsCompleted);
                // One heartbeat per owner per tick, each waiting on its own: a slow answer does not delay the next.
                foreach (var owner in OwnersStoodBy())
                {
                    pending.Add(BeatAsync(client, owner, secret, stoppingToken));
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            await Task.WhenAll(pending);
        }
    }

    /// <summary>The regions, other than this one, that own a shard this region holds a replica of.</summary>
    private IEnumerable<RegionEndpoint> OwnersStoodBy() => catalog.Replicas
        .Select(r => catalog.OwnerOf(r.TenantId, r.HomeRegion))
        .Where(o => o is not null && o != _options.RegionId)
        .Distinct(StringComparer.Ordinal)
        .Select(o => catalog.Region(o!))
        .OfType<RegionEndpoint>();

    private async Task BeatAsync(RadiusClient client, RegionEndpoint owner, byte[] secret, CancellationToken cancellationToken)
    {
        try
        {
            var answer = await client.ExchangeAsync(identifier => StatusServer(identifier, secret), new IPEndPoint(owner.Address, owner.AuthPort),
                _options.SurvivalForwardTimeout, attempts: 1,
                (sent, reply) => RadiusAuthenticator.VerifyResponseAuthenticator(reply, sent.AsSpan(4, 16), secret), cancellationToken);
            if (answer is null)
            {
                _missed.Increment();
                owners.HeartbeatMissed(owner.Id);
            }
            else
            {
                _answered.Increment();
                owners.HeartbeatAnswered(owner.Id);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is System.Net.Sockets.SocketException or ObjectDisposedException)
        {
            // Not an answer, and not a miss either: this node's own socket failed. Said, and the next tick tries again.
            LogSendFailed(logger, owner.Id, ex.Message);
        }
    }

    private static byte[] StatusServer(byte identifier, byte[] secret)
    {
        var buffer = new byte[RadiusPacket.MaxLength];
        var writer = new RadiusPacketWriter(buffer, RadiusCode.StatusServer, identifier, RandomNumberGenerator.GetBytes(16));
        writer.AddMessageAuthenticator();
        return buffer[..writer.FinishRequest(secret)];
    }

    [LoggerMessage(EventId = 1405, Level = LogLevel.Warning, Message = "Heartbeat to region {Region} could not be sent: {Reason}")]
    private static partial void LogSendFailed(ILogger logger, string region, string reason);
}
