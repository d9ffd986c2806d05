using System.Diagnostics;
using System.Globalization;
using System.Net;
using Geo.Provisioning.NasConfig;
using Geo.Radius.Dictionary;
using Geo.Radius.Nas;
using Geo.Radius;

namespace Geo.Ctl.Drill;

/// <summary>A NAS the drill plays: its directory entry (endpoints), its secret and the subscribers it logs in.</summary>
internal sealed record DrillNas(NasClient Client, IPEndPoint PrimaryAuth, IPEndPoint PrimaryAcct, IPEndPoint? BackupAuth, IPEndPoint? BackupAcct, byte[] Secret,
    IReadOnlyList<(string Username, string Password)> Subscribers)
{
    public override string ToString() => Client.ToString();
}

/// <summary>
/// The NAS simulator: per NAS of the drilled region, subscribers log in at a steady rate (each a different one while any is
/// free), and each accepted login runs an accounting lifecycle (Start, Interim-Updates with growing counters, Stop). Every
/// request goes where the NAS's generated configuration sends it (<see cref="FailoverTiming"/>): the primary, each send
/// waiting its timeout, as many sends as the configuration's attempts; then the backup; a primary that gave no answer is
/// dead for the dead time and the backup is asked first meanwhile. Every request, its answer, the region that gave it and
/// the time go to the <see cref="DrillRecorder"/>.
/// </summary>
internal sealed class NasSimulator : IAsyncDisposable
{
    /// <summary>Octets a session reports more in each Interim-Update (1 MB down, a quarter up): small, so a prepaid balance lasts.</summary>
    private const long OctetsPerInterval = 1_000_000;

    /// <summary>Sockets per endpoint (each 256 identifiers in flight), as a busy BNG uses several source ports.</summary>
    private const int SocketsPerEndpoint = 8;

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(FailoverTiming.TimeoutSeconds);
    private static readonly TimeSpan DeadTime = TimeSpan.FromSeconds(FailoverTiming.DeadTimeSeconds);

    private readonly DrillRecorder _recorder;
    private readonly int _interims;
    private readonly TimeSpan _interval;
    private readonly string _runId;
    private readonly List<Device> _devices;
    private readonly List<Task> _sessions = [];
    private readonly Lock _sessionsGate = new();
    private long _released;

    /// <param name="nas">The NAS to play.</param>
    /// <param name="recorder">Where every request goes.</param>
    /// <param name="interims">Interim-Updates per session (the accounting rate is logins × (interims + 2)).</param>
    /// <param name="interval">Time between a session's accounting requests.</param>
    /// <param name="runId">Names the run's sessions (<c>drill-&lt;run&gt;-&lt;n&gt;</c>).</param>
    public NasSimulator(IReadOnlyList<DrillNas> nas, DrillRecorder recorder, int interims, TimeSpan interval, string runId)
    {
        _recorder = recorder;
        _interims = interims;
        _interval = interval;
        _runId = runId;
        _devices = [.. nas.Select(n => new Device(n))];
    }

    /// <summary>Sessions released so far.</summary>
    public long Released => Interlocked.Read(ref _released);

    /// <summary>
    /// Releases logins at <paramref name="loginsPerSecond"/> over the NAS in turn until <paramref name="stop"/> is cancelled,
    /// then waits for every session released to end (its Stop answered or given up).
    /// </summary>
    public async Task RunAsync(int loginsPerSecond, CancellationToken stop)
    {
        var started = Stopwatch.GetTimestamp();
        await NasLogin.ReleaseAsync(int.MaxValue, loginsPerSecond, started, i =>
        {
            var device = _devices[i % _devices.Count];
            if (device.TryTakeSubscriber(out var subscriber))
            {
                Interlocked.Increment(ref _released);
                var session = SessionAsync(device, subscriber, $"drill-{_runId}-{i.ToString(CultureInfo.InvariantCulture)}");
                lock (_sessionsGate)
                {
                    _sessions.Add(session);
                }
            }
        }, stop).ContinueWith(_ => { }, TaskScheduler.Default);

        Task[] running;
        lock (_sessionsGate)
        {
            running = [.. _sessions];
        }

        await Task.WhenAll(running);
    }

    /// <summary>A subscriber's login and, once accepted, its session's accounting.</summary>
    private async Task SessionAsync(Device device, (string Username, string Password) subscriber, string sessionId)
    {
        var (username, password) = subscriber;
        var login = _recorder.Begin(RequestKind.Login, device.Nas.Client.NasId, username, sessionId, 0);
        var answer = await device.SendAsync(login, auth: true, _recorder,
            (buffer, id, secret, address) => NasLogin.AccessRequest(buffer, id, username, password, secret, address));
        if (answer is null)
        {
            device.ReturnSubscriber(subscriber);
            return;
        }

        if (RadiusPacket.TryRead(answer, out var accept) != RadiusReadStatus.Ok || accept.Code != RadiusCode.AccessAccept)
        {
            // Rejected: counted by the report as a wrong reject (the drill logs in only valid subscribers); not reused.
            return;
        }

        accept.TryGetString(RadiusAttributeType.Class, out var sessionClass);
        var stopped = false;
        for (var step = 0; step <= _interims + 1; step++)
        {
            if (step > 0)
            {
                await Task.Delay(_interval);
            }

            var (kind, status) = step == 0 ? (RequestKind.Start, AcctStatusType.Start)
                : step <= _interims ? (RequestKind.Interim, AcctStatusType.InterimUpdate)
                : (RequestKind.Stop, AcctStatusType.Stop);
            var counters = new SessionCounters(step * OctetsPerInterval, step * OctetsPerInterval / 4, (long)(step * _interval.TotalSeconds));
            var request = _recorder.Begin(kind, device.Nas.Client.NasId, username, sessionId, counters.InputOctets);
            var response = await device.SendAsync(request, auth: false, _recorder,
                (buffer, id, secret, address) => NasLogin.Accounting(buffer, id, status, username, sessionClass, sessionId, counters, secret, address));
            stopped = kind == RequestKind.Stop && response is not null;
        }

        // A session whose Stop went unanswered may still be open at the owner (Simultaneous-Use): its subscriber is not reused.
        if (stopped)
        {
            device.ReturnSubscriber(subscriber);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var device in _devices)
        {
            await device.DisposeAsync();
        }
    }

    /// <summary>One NAS: a few sockets per endpoint, its free subscribers, and whether it deems its primary dead.</summary>
    private sealed class Device : IAsyncDisposable
    {
        private readonly NasRadiusClient[][] _auth;
        private readonly NasRadiusClient[][] _acct;
        private readonly string[] _regions;
        private readonly Queue<(string Username, string Password)> _free;
        private readonly Lock _freeGate = new();
        private long _primaryDeadUntil;
        private int _next;

        public Device(DrillNas nas)
        {
            Nas = nas;
            var address = IPAddress.Parse(nas.Client.NasAddress);
            IPEndPoint[] auth = nas.BackupAuth is null ? [nas.PrimaryAuth] : [nas.PrimaryAuth, nas.BackupAuth];
            IPEndPoint[] acct = nas.BackupAcct is null ? [nas.PrimaryAcct] : [nas.PrimaryAcct, nas.BackupAcct];
            _auth = [.. auth.Select(endpoint => Enumerable.Range(0, SocketsPerEndpoint).Select(_ => new NasRadiusClient(address, endpoint)).ToArray())];
            _acct = [.. acct.Select(endpoint => Enumerable.Range(0, SocketsPerEndpoint).Select(_ => new NasRadiusClient(address, endpoint)).ToArray())];
            _regions = nas.Client.Backup is { } backup ? [nas.Client.Primary.RegionId, backup.RegionId] : [nas.Client.Primary.RegionId];
            _free = new Queue<(string, string)>(nas.Subscribers);
            Address = address;
        }

        public DrillNas Nas { get; }

        public IPAddress Address { get; }

        public bool TryTakeSubscriber(out (string Username, string Password) subscriber)
        {
            lock (_freeGate)
            {
                return _free.TryDequeue(out subscriber);
            }
        }

        public void ReturnSubscriber((string Username, string Password) subscriber)
        {
            lock (_freeGate)
            {
                _free.Enqueue(subscriber);
            }
        }

        /// <summary>Sends to the primary (unless deemed dead), then to the backup, as the NAS's configuration says; records the outcome.</summary>
        public async Task<byte[]?> SendAsync(DrillRequest record, bool auth, DrillRecorder recorder, Func<byte[], byte, byte[], IPAddress, int> build)
        {
            var endpoints = auth ? _auth : _acct;
            var first = endpoints.Length > 1 && Stopwatch.GetTimestamp() < Interlocked.Read(ref _primaryDeadUntil) ? 1 : 0;
            var sends = 0;
            for (var attempt = 0; attempt < endpoints.Length; attempt++)
            {
                var server = (first + attempt) % endpoints.Length;
                var client = endpoints[server][(uint)Interlocked.Increment(ref _next) % SocketsPerEndpoint];
                var buffer = new byte[4096];
                var id = await client.RentIdentifierAsync(CancellationToken.None);
                var length = build(buffer, id, Nas.Secret, Address);
                var (answer, sent) = await client.ExchangeWithRetriesAsync(id, buffer.AsMemory(0, length), Timeout, FailoverTiming.Attempts, Nas.Secret);
                sends += sent;
                if (answer is not null)
                {
                    recorder.Answer(record, _regions[server], answer[0], sends);
                    return answer;
                }

                if (server == 0)
                {
                    Interlocked.Exchange(ref _primaryDeadUntil, Stopwatch.GetTimestamp() + (long)(DeadTime.TotalSeconds * Stopwatch.Frequency));
                }
            }

            recorder.Answer(record, null, 0, sends);
            return null;
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var client in _auth.Concat(_acct).SelectMany(c => c))
            {
                await client.DisposeAsync();
            }
        }
    }
}
