using System.Diagnostics;
using System.Globalization;
using System.Net;
using Geo.LoadTests.Measurement;
using Geo.Radius;
using Geo.Radius.Dictionary;
using Geo.Radius.Nas;

namespace Geo.LoadTests.Radius;

/// <summary>
/// <c>geo-load radius --mode reconnect</c>: a BNG that rebooted. It sends an Accounting-On, then releases its subscribers
/// at a steady rate; each one sends an Access-Request and, once accepted, an Accounting-Start carrying the Class of the
/// accept. Every request is retransmitted after 1 s without an answer, 3 tries in all, as a NAS does. Prints how long the
/// whole re-login took, how many subscribers were logged in, rejected or given up on, and the login latency.
/// </summary>
internal static class ReconnectScenario
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(1);
    private const int Tries = 3;

    public static async Task<int> RunAsync(RadiusBenchmark.Target nas, int count, int rate, TextWriter output, CancellationToken cancellationToken)
    {
        var subscribers = nas.Credentials.Take(count).ToList();
        if (subscribers.Count < count)
        {
            output.WriteLine($"geo-load radius: the stack has {subscribers.Count:N0} usable demo subscribers of this tenant; re-logging in all of them");
        }

        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"geo-load radius: reconnect of NAS {nas.NasAddress}: Accounting-On, then {subscribers.Count:N0} subscribers released at {rate:N0}/s (Access-Request, Accounting-Start; retransmit after {Timeout.TotalSeconds:F0} s, {Tries} tries)"));
        await nas.SendNasStatusAsync(AcctStatusType.AccountingOn, output);

        // A few sockets per port, as a BNG has (each holds up to 256 requests in flight; each costs this process a receive thread).
        var sockets = Math.Clamp(rate / 500, 4, 16);
        var authClients = Enumerable.Range(0, sockets).Select(_ => new NasRadiusClient(nas.NasAddress, new IPEndPoint(IPAddress.Loopback, nas.AuthPort))).ToArray();
        var acctClients = Enumerable.Range(0, sockets).Select(_ => new NasRadiusClient(nas.NasAddress, new IPEndPoint(IPAddress.Loopback, nas.AcctPort))).ToArray();
        var tally = new Tally();
        var latency = new LatencyRecorder();
        var latencyGate = new Lock();
        var local = latency.CreateLocal();
        var runId = Guid.NewGuid().ToString("N")[..8];
        var started = Stopwatch.GetTimestamp();
        var logins = new List<Task>(subscribers.Count);
        var progress = new Timer(_ => output.WriteLine(tally.Progress(subscribers.Count, Stopwatch.GetElapsedTime(started))), null, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5));

        // The BNG releases subscribers on a schedule, whatever the server's pace.
        await NasLogin.ReleaseAsync(subscribers.Count, rate, started, i =>
        {
            var (username, password) = subscribers[i];
            var socket = i % sockets;
            logins.Add(LoginAsync(authClients[socket], acctClients[socket], nas, username, password, $"{runId}-{i}", tally, elapsed =>
            {
                lock (latencyGate)
                {
                    local.Record(elapsed);
                }
            }));
        }, cancellationToken);

        await Task.WhenAll(logins);
        var took = Stopwatch.GetElapsedTime(started);
        await progress.DisposeAsync();
        local.Flush();
        foreach (var client in authClients.Concat(acctClients))
        {
            await client.DisposeAsync();
        }

        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  re-login of {subscribers.Count:N0} subscribers took {took.TotalSeconds:F1} s ({tally.LoggedIn / took.TotalSeconds:F0} logins/s; released at {rate:N0}/s)"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  logged in (accepted and accounted): {tally.LoggedIn:N0}; rejected: {tally.Rejected:N0}; given up after {Tries} tries: {tally.AuthGivenUp:N0} Access-Requests, {tally.AcctGivenUp:N0} Accounting-Starts"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  retransmissions: {tally.Retransmissions:N0} ({100.0 * tally.Retransmissions / Math.Max(1, tally.Sent):F2} % of {tally.Sent:N0} requests sent)"));
        output.WriteLine($"  login latency (release to Accounting-Response, retransmissions included): {latency.Summary()}");
        return tally.AuthGivenUp + tally.AcctGivenUp == 0 ? 0 : 1;
    }

    private static async Task LoginAsync(NasRadiusClient auth, NasRadiusClient acct, RadiusBenchmark.Target nas, string username, string password, string sessionId,
        Tally tally, Action<long> recordMicroseconds)
    {
        var released = Stopwatch.GetTimestamp();
        var buffer = new byte[4096];
        var id = await auth.RentIdentifierAsync(CancellationToken.None);
        var length = NasLogin.AccessRequest(buffer, id, username, password, nas.Secret, nas.NasAddress);
        var (answer, sent) = await auth.ExchangeWithRetriesAsync(id, buffer.AsMemory(0, length), Timeout, Tries, nas.Secret);
        tally.Sending(sent);
        if (answer is null)
        {
            tally.GiveUp(auth: true);
            return;
        }

        if (RadiusPacket.TryRead(answer, out var accept) != RadiusReadStatus.Ok || accept.Code != RadiusCode.AccessAccept)
        {
            tally.Reject();
            return;
        }

        id = await acct.RentIdentifierAsync(CancellationToken.None);
        accept.TryGetString(RadiusAttributeType.Class, out var sessionClass);
        length = NasLogin.AccountingStart(buffer, id, username, sessionClass, sessionId, nas.Secret, nas.NasAddress);
        (answer, sent) = await acct.ExchangeWithRetriesAsync(id, buffer.AsMemory(0, length), Timeout, Tries, nas.Secret);
        tally.Sending(sent);
        if (answer is null || answer[0] != (byte)RadiusCode.AccountingResponse)
        {
            tally.GiveUp(auth: false);
            return;
        }

        tally.LogIn();
        recordMicroseconds((long)Stopwatch.GetElapsedTime(released).TotalMicroseconds);
    }

    private sealed class Tally
    {
        private int _loggedIn;
        private int _rejected;
        private int _authGivenUp;
        private int _acctGivenUp;
        private long _sent;
        private long _retransmissions;

        public int LoggedIn => Volatile.Read(ref _loggedIn);

        public int Rejected => Volatile.Read(ref _rejected);

        public int AuthGivenUp => Volatile.Read(ref _authGivenUp);

        public int AcctGivenUp => Volatile.Read(ref _acctGivenUp);

        public long Sent => Interlocked.Read(ref _sent);

        public long Retransmissions => Interlocked.Read(ref _retransmissions);

        public void LogIn() => Interlocked.Increment(ref _loggedIn);

        public void Reject() => Interlocked.Increment(ref _rejected);

        public void GiveUp(bool auth) => Interlocked.Increment(ref auth ? ref _authGivenUp : ref _acctGivenUp);

        public void Sending(int times)
        {
            Interlocked.Add(ref _sent, times);
            Interlocked.Add(ref _retransmissions, times - 1);
        }

        public string Progress(int total, TimeSpan elapsed) => string.Create(CultureInfo.InvariantCulture,
            $"  ... {elapsed.TotalSeconds:F0} s: {LoggedIn:N0} of {total:N0} logged in, {Rejected:N0} rejected, {AuthGivenUp + AcctGivenUp:N0} given up, {Retransmissions:N0} retransmissions");
    }
}
