using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Geo.Radius;
using Geo.Radius.Dictionary;
using Geo.Radius.Security;
using Geo.RegionNode.Operations;
using Geo.RegionNode.Shards;
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
/// RFC 5176 client: sends CoA-Requests and Disconnect-Requests to the NAS's CoA port, retransmits on
/// silence, verifies the answer's authenticator, and records the outcome (ack, nak with Error-Cause,
/// timeout) on the request's row. Requests are queued and sent in the background: the accounting
/// answer never waits for the NAS.
/// </summary>
internal sealed partial class ChangeRequestSender : BackgroundService
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(1);
    private const int Attempts = 3;
    private readonly Channel<ChangeRequest> _queue = Channel.CreateBounded<ChangeRequest>(new BoundedChannelOptions(10_000) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly Socket _socket;
    private readonly TaskCompletionSource<byte[]>?[] _pending = new TaskCompletionSource<byte[]>?[256];
    private readonly SemaphoreSlim _identifiers = new(256, 256);
    private readonly Metrics _metrics;
    private readonly ILogger<ChangeRequestSender> _logger;
    private int _nextIdentifier;

    public ChangeRequestSender(IOptions<RegionNodeOptions> options, Metrics metrics, ILogger<ChangeRequestSender> logger)
    {
        _metrics = metrics;
        _logger = logger;
        var bind = IPAddress.Parse(options.Value.RadiusBindAddress);
        _socket = new Socket(bind.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        _socket.Bind(new IPEndPoint(bind, 0));
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
        var receiver = ReceiveAsync(stoppingToken);
        var workers = Enumerable.Range(0, 16).Select(_ => WorkAsync(stoppingToken)).ToArray();
        await Task.WhenAll(workers);
        _socket.Dispose();
        try
        {
            await receiver;
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
    }

    private async Task WorkAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var request in _queue.Reader.ReadAllAsync(stoppingToken))
            {
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
        await _identifiers.WaitAsync(cancellationToken);
        var identifier = TakeIdentifier();
        try
        {
            var packet = Build(request, identifier);
            var destination = new IPEndPoint(request.Nas.Address, request.Nas.CoaPort);
            for (var attempt = 1; attempt <= Attempts; attempt++)
            {
                var answer = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
                _pending[identifier] = answer;
                await _socket.SendToAsync(packet, SocketFlags.None, destination, cancellationToken);
                byte[] response;
                try
                {
                    response = await answer.Task.WaitAsync(Timeout, cancellationToken);
                }
                catch (TimeoutException)
                {
                    continue;
                }

                if (!RadiusAuthenticator.VerifyResponseAuthenticator(response, packet.AsSpan(4, 16), request.Nas.Secret(0)) ||
                    RadiusPacket.TryRead(response, out var reply) != RadiusReadStatus.Ok)
                {
                    Count("bad_response");
                    continue;
                }

                switch (reply.Code)
                {
                    case RadiusCode.DisconnectAck or RadiusCode.CoAAck:
                        return ("ack", null, attempt);
                    case RadiusCode.DisconnectNak or RadiusCode.CoANak:
                        return ("nak", reply.TryGetUInt32(RadiusAttributeType.ErrorCause, out var cause) ? (int)cause : null, attempt);
                }
            }

            return ("timeout", null, Attempts);
        }
        finally
        {
            _pending[identifier] = null;
            _identifiers.Release();
        }
    }

    private byte TakeIdentifier()
    {
        while (true)
        {
            var identifier = (byte)(Interlocked.Increment(ref _nextIdentifier) & 0xFF);
            if (_pending[identifier] is null)
            {
                return identifier;
            }
        }
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

    private async Task ReceiveAsync(CancellationToken cancellationToken)
    {
        var buffer = new byte[4096];
        var any = new IPEndPoint(IPAddress.Any, 0);
        while (!cancellationToken.IsCancellationRequested)
        {
            var received = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, any, cancellationToken);
            if (received.ReceivedBytes >= RadiusPacket.HeaderLength &&
                BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(2, 2)) <= received.ReceivedBytes &&
                _pending[buffer[1]] is { } pending)
            {
                pending.TrySetResult(buffer[..received.ReceivedBytes]);
            }
        }
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
        _socket.Dispose();
        _identifiers.Dispose();
        base.Dispose();
    }

    [LoggerMessage(EventId = 2100, Level = LogLevel.Information, Message = "{Kind} to NAS {Nas} for session {Session}: {Outcome}")]
    private static partial void LogOutcome(ILogger logger, string kind, string nas, string session, string outcome);
}
