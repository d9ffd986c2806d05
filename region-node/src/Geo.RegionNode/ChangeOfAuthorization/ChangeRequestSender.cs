using System.Net.Sockets;
using System.Net;
using System.Threading.Channels;
using Geo.Radius.Dictionary;
using Geo.Radius.Security;
using Geo.Radius;
using Geo.RegionNode.Shards;
using Geo.RegionNode.Telemetry;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Geo.RegionNode.ChangeOfAuthorization;

/// <summary>A CoA-Request (throttle) or Disconnect-Request for one session, already recorded as pending.</summary>
internal sealed record ChangeRequest(
    Guid Id,
    ShardHandle Shard,
    NasClient Nas,
    bool Disconnect,
    string Username,
    string AcctSessionId,
    IPAddress? FramedIp,
    int? DownloadKbps,
    int? UploadKbps);

/// <summary>
/// RFC 5176 client: sends CoA and Disconnect requests with retransmission, verifies the answer and records the outcome.
/// Sent in the background, so the accounting answer never waits for the NAS.
/// </summary>
internal sealed partial class ChangeRequestSender : BackgroundService
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(1);
    private const int Attempts = 3;
    private readonly Channel<ChangeRequest> _queue = Channel.CreateBounded<ChangeRequest>(new BoundedChannelOptions(10_000) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly RadiusClient _client;
    private readonly Metrics _metrics;
    private readonly ILogger<ChangeRequestSender> _logger;

    public ChangeRequestSender(IOptions<RegionNodeOptions> options, Metrics metrics, ILogger<ChangeRequestSender> logger)
    {
        _metrics = metrics;
        _logger = logger;
        _client = new RadiusClient(IPAddress.Parse(options.Value.RadiusBindAddress));
    }

    /// <summary>Queues a request; false when the queue is full (counted; the row stays pending).</summary>
    public bool Enqueue(ChangeRequest request)
    {
        if (_queue.Writer.TryWrite(request))
        {
            return true;
        }

        Count("queue_full");
        return false;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => WorkAsync(stoppingToken)));
    }

    private async Task WorkAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var request in _queue.Reader.ReadAllAsync(stoppingToken))
            {
                if (!request.Shard.HoldsLease)
                {
                    // A fenced node sends nothing for the shard: its row stays without an outcome (pending) in the database,
                    // which is the new owner's after a promotion.
                    Count("fenced");
                    continue;
                }

                var (outcome, errorCause, attempts) = await SendAsync(request, stoppingToken);
                Count(outcome);
                LogOutcome(_logger, request.Disconnect ? "Disconnect-Request" : "CoA-Request", request.Nas.Id, request.AcctSessionId, outcome);
                await RecordAsync(request, outcome, errorCause, attempts, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task<(string Outcome, int? ErrorCause, int Attempts)> SendAsync(ChangeRequest request, CancellationToken cancellationToken)
    {
        var secret = request.Nas.SecretBytes(0);
        var exchanged = await _client.ExchangeAsync(identifier => Build(request, identifier), new IPEndPoint(request.Nas.Address, request.Nas.CoaPort), Timeout, Attempts,
            (sent, reply) =>
            {
                var valid = RadiusAuthenticator.VerifyResponseAuthenticator(reply, sent.AsSpan(4, 16), secret) && RadiusPacket.TryRead(reply, out _) == RadiusReadStatus.Ok;
                if (!valid)
                {
                    Count("bad_response");
                }

                return valid;
            }, cancellationToken);
        if (exchanged is not { } answer)
        {
            return ("timeout", null, Attempts);
        }

        RadiusPacket.TryRead(answer.Answer, out var reply);
        return reply.Code is RadiusCode.DisconnectAck or RadiusCode.CoAAck
            ? ("ack", null, answer.Attempt)
            : ("nak", reply.TryGetUInt32(RadiusAttributeType.ErrorCause, out var cause) ? (int)cause : null, answer.Attempt);
    }

    private static byte[] Build(ChangeRequest request, byte identifier)
    {
        var buffer = new byte[4096];
        var writer = new RadiusPacketWriter(buffer, request.Disconnect ? RadiusCode.DisconnectRequest : RadiusCode.CoARequest, identifier);
        writer.AddString(RadiusAttributeType.UserName, request.Username);
        writer.AddString(RadiusAttributeType.AcctSessionId, request.AcctSessionId);
        if (request.FramedIp is { AddressFamily: AddressFamily.InterNetwork } framed)
        {
            writer.AddIPv4Address(RadiusAttributeType.FramedIpAddress, framed);
        }

        if (!request.Disconnect && request is { DownloadKbps: { } down, UploadKbps: { } up })
        {
            VendorRates.Add(ref writer, request.Nas.Vendor, down, up);
        }

        writer.AddMessageAuthenticator();
        var length = writer.FinishRequest(request.Nas.Secret(0));
        return buffer[..length];
    }

    private static async Task RecordAsync(ChangeRequest request, string outcome, int? errorCause, int attempts, CancellationToken cancellationToken)
    {
        await using var connection = await request.Shard.DataSource.OpenConnectionAsync(cancellationToken);
        await using var update = new NpgsqlCommand(
            "UPDATE change_requests SET outcome = $2, error_cause = $3, attempts = $4, completed_at = now() WHERE id = $1", connection);
        update.Parameters.Add(new() { Value = request.Id });
        update.Parameters.Add(new() { Value = outcome });
        update.Parameters.Add(new() { Value = (object?)errorCause ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer });
        update.Parameters.Add(new() { Value = attempts });
        await update.ExecuteNonQueryAsync(cancellationToken);
    }

    private void Count(string outcome) =>
        _metrics.Counter("geo_change_requests_total", "CoA and Disconnect requests to NAS devices, by outcome", $"outcome=\"{outcome}\"").Increment();

    public override void Dispose()
    {
        _client.Dispose();
        base.Dispose();
    }

    [LoggerMessage(EventId = 2100, Level = LogLevel.Information, Message = "{Kind} to NAS {Nas} for session {Session}: {Outcome}")]
    private static partial void LogOutcome(ILogger logger, string kind, string nas, string session, string outcome);
}
