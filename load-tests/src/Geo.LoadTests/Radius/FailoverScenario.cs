using System.Diagnostics;
using System.Globalization;
using System.Net;
using Geo.LoadTests.Measurement;
using Geo.Radius;
using Geo.Radius.Dictionary;
using Geo.Radius.Nas;

namespace Geo.LoadTests.Radius;

/// <summary>
/// <c>geo-load radius --mode failover</c>: a NAS with a primary and a backup endpoint logs subscribers in (Access-Request,
/// then an Accounting-Start with the accept's Class) at a steady rate, each a different one, while the primary region's
/// node is SIGKILLed partway through. Like a NAS, each request waits 1 s, is sent twice to the primary, and then goes
/// to the backup; a primary that gave no answer is marked dead for 30 s, and the backup is asked first meanwhile.
/// Prints the time from the kill to the first Access-Accept through the backup, and every login's outcome after the
/// kill: a valid subscriber rejected there is a failure (exit 1), as is one given up on. With a promotion
/// (<c>--promote-after</c>), <c>geoctl dr promote</c> runs that long after the kill, as an operator following the runbook
/// would, while the logins go on: its time is printed too (the promotion leaves the stack promoted; <c>./geo down
/// --purge</c> and <c>./geo up</c> start afresh).
/// </summary>
internal static class FailoverScenario
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan DeadTime = TimeSpan.FromSeconds(30);
    private const int Tries = 2;

    public static async Task<int> RunAsync(RadiusBenchmark.Target primary, RadiusBenchmark.Target backup, string nodePidFile, int rate, TimeSpan duration, TimeSpan killAfter,
        Promotion? promotion, TextWriter output, CancellationToken cancellationToken)
    {
        var subscribers = primary.Credentials.Take((int)Math.Ceiling(rate * duration.TotalSeconds)).ToList();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"geo-load radius: failover of NAS {primary.NasAddress}: {subscribers.Count:N0} logins at {rate:N0}/s, primary 127.0.0.1:{primary.AuthPort}, backup 127.0.0.1:{backup.AuthPort} " +
            $"({Timeout.TotalSeconds:F0} s timeout, {Tries} tries each, dead time {DeadTime.TotalSeconds:F0} s); the primary's node is killed after {killAfter.TotalSeconds:F0} s"));
        if (!File.Exists(nodePidFile))
        {
            await Console.Error.WriteLineAsync($"geo-load radius: no running node to kill ({nodePidFile} is missing): start the stack with ./geo up");
            return 2;
        }

        // Sessions an earlier run left open would count against Simultaneous-Use: the NAS starts as a rebooted one does.
        await primary.SendNasStatusAsync(AcctStatusType.AccountingOn, output);
        var nas = new Nas(primary, backup);
        var before = new Tally();
        var after = new Tally();
        var latency = new LatencyRecorder();
        var local = latency.CreateLocal();
        var latencyGate = new Lock();
        var runId = Guid.NewGuid().ToString("N")[..8];
        var started = Stopwatch.GetTimestamp();
        long killedAt = 0;
        long firstBackupAccept = 0;
        long firstBackupLogin = 0;
        var logins = new List<Task>(subscribers.Count);
        Task<(int Code, TimeSpan Took)>? promoting = null;
        await NasLogin.ReleaseAsync(subscribers.Count, rate, started, i =>
        {
            if (killedAt == 0 && Stopwatch.GetElapsedTime(started) >= killAfter)
            {
                var pid = int.Parse(File.ReadAllText(nodePidFile).Trim(), CultureInfo.InvariantCulture);
                using var node = Process.GetProcessById(pid);
                node.Kill();
                Volatile.Write(ref killedAt, Stopwatch.GetTimestamp());
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  ... {Stopwatch.GetElapsedTime(started).TotalSeconds:F1} s ({DateTimeOffset.UtcNow:HH:mm:ss.fff}Z): SIGKILL to the primary region's node (pid {pid})"));
                promoting = promotion?.RunAsync(output, cancellationToken);
            }

            var (username, password) = subscribers[i];
            var afterKill = killedAt != 0;
            logins.Add(LoginAsync(nas, username, password, $"{runId}-{i}", afterKill ? after : before, viaBackup =>
            {
                if (viaBackup && afterKill)
                {
                    Interlocked.CompareExchange(ref firstBackupAccept, Stopwatch.GetTimestamp(), 0);
                }
            }, (elapsed, viaBackup) =>
            {
                if (viaBackup && afterKill)
                {
                    Interlocked.CompareExchange(ref firstBackupLogin, Stopwatch.GetTimestamp(), 0);
                }

                if (afterKill)
                {
                    lock (latencyGate)
                    {
                        local.Record(elapsed);
                    }
                }
            }));
        }, cancellationToken);

        await Task.WhenAll(logins);
        var promoted = promoting is null ? ((int Code, TimeSpan Took)?)null : await promoting;
        local.Flush();
        var stale = nas.StaleAnswers;
        await nas.DisposeAsync();
        output.WriteLine($"  before the kill: {before.Summary()}");
        output.WriteLine($"  after the kill:  {after.Summary()}");
        output.WriteLine(firstBackupAccept == 0
            ? "  first Access-Accept through the backup after the kill: none"
            : string.Create(CultureInfo.InvariantCulture,
                $"  first Access-Accept through the backup after the kill: {(firstBackupAccept - killedAt) / (double)Stopwatch.Frequency:F2} s; first login through it (Accounting-Start answered too): {(firstBackupLogin - killedAt) / (double)Stopwatch.Frequency:F2} s"));
        output.WriteLine($"  login latency after the kill (release to Accounting-Response, failover included): {latency.Summary()}");
        output.WriteLine($"  late answers to requests already given up on (identifier reused; dropped by their Response Authenticator, as a NAS does): {stale:N0}");
        if (promoted is { } done)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  geoctl dr promote {promotion!.Shard} --to {promotion.To}: exit {done.Code} after {done.Took.TotalSeconds:F1} s (started {promotion.After.TotalSeconds:F0} s after the kill)"));
            output.WriteLine("  the shard stays promoted: ./geo down --purge and ./geo up start the demo afresh");
        }
        else
        {
            output.WriteLine("  the primary region's node stays down: ./geo up starts it again");
        }

        return after.Rejected + after.GivenUp + before.Rejected + before.GivenUp == 0 && firstBackupAccept != 0 && promoted is null or { Code: 0 } ? 0 : 1;
    }

    /// <summary><c>geoctl dr promote</c> of a shard, <see cref="After"/> the kill, as its own process.</summary>
    internal sealed record Promotion(string StackDirectory, string Shard, string To, TimeSpan After)
    {
        public async Task<(int Code, TimeSpan Took)> RunAsync(TextWriter output, CancellationToken cancellationToken)
        {
            await Task.Delay(After, cancellationToken);
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in new[] { Geo.Engines.Services.GeoProgram.Ctl.Locate(), "dr", "promote", Shard, "--to", To, "--state-dir", StackDirectory })
            {
                start.ArgumentList.Add(argument);
            }

            var clock = Stopwatch.StartNew();
            using var process = Process.Start(start)!;
            var lines = process.StandardOutput.ReadToEndAsync(cancellationToken);
            var errors = process.StandardError.ReadToEndAsync(cancellationToken);
            await process.WaitForExitAsync(cancellationToken);
            var took = clock.Elapsed;
            foreach (var line in ((await lines) + await errors).Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                output.WriteLine($"  | {line}");
            }

            return (process.ExitCode, took);
        }
    }

    private static async Task LoginAsync(Nas nas, string username, string password, string sessionId, Tally tally, Action<bool> accepted, Action<long, bool> loggedIn)
    {
        var released = Stopwatch.GetTimestamp();
        var (answer, viaBackup) = await nas.SendAsync(auth: true, (buffer, id, secret) => NasLogin.AccessRequest(buffer, id, username, password, secret, nas.Address));
        if (answer is null)
        {
            tally.GiveUp();
            return;
        }

        if (RadiusPacket.TryRead(answer, out var accept) != RadiusReadStatus.Ok || accept.Code != RadiusCode.AccessAccept)
        {
            tally.Reject();
            return;
        }

        accepted(viaBackup);
        accept.TryGetString(RadiusAttributeType.Class, out var sessionClass);
        var (response, _) = await nas.SendAsync(auth: false, (buffer, id, secret) => NasLogin.AccountingStart(buffer, id, username, sessionClass, sessionId, secret, nas.Address));
        if (response is null || response[0] != (byte)RadiusCode.AccountingResponse)
        {
            tally.GiveUp();
            return;
        }

        tally.LogIn(viaBackup);
        loggedIn((long)Stopwatch.GetElapsedTime(released).TotalMicroseconds, viaBackup);
    }

    /// <summary>The NAS: a client per endpoint and port, and whether it deems the primary dead.</summary>
    private sealed class Nas(RadiusBenchmark.Target primary, RadiusBenchmark.Target backup) : IAsyncDisposable
    {
        private readonly NasRadiusClient[] _auth =
        [
            new(primary.NasAddress, new IPEndPoint(IPAddress.Loopback, primary.AuthPort)), new(primary.NasAddress, new IPEndPoint(IPAddress.Loopback, backup.AuthPort)),
        ];

        private readonly NasRadiusClient[] _acct =
        [
            new(primary.NasAddress, new IPEndPoint(IPAddress.Loopback, primary.AcctPort)), new(primary.NasAddress, new IPEndPoint(IPAddress.Loopback, backup.AcctPort)),
        ];

        private long _primaryDeadUntil;

        public IPAddress Address => primary.NasAddress;

        public long StaleAnswers => _auth.Concat(_acct).Sum(c => c.StaleAnswers);

        /// <summary>Sends to the primary (unless deemed dead), then to the backup; the answer, and whether the backup gave it.</summary>
        public async Task<(byte[]? Answer, bool ViaBackup)> SendAsync(bool auth, Func<byte[], byte, byte[], int> build)
        {
            var clients = auth ? _auth : _acct;
            var start = Stopwatch.GetTimestamp() < Interlocked.Read(ref _primaryDeadUntil) ? 1 : 0;
            for (var server = start; server < 2; server++)
            {
                var buffer = new byte[4096];
                var id = await clients[server].RentIdentifierAsync(CancellationToken.None);
                var length = build(buffer, id, primary.Secret);
                var (answer, _) = await clients[server].ExchangeWithRetriesAsync(id, buffer.AsMemory(0, length), Timeout, Tries, primary.Secret);
                if (answer is not null)
                {
                    return (answer, server == 1);
                }

                if (server == 0)
                {
                    Interlocked.Exchange(ref _primaryDeadUntil, Stopwatch.GetTimestamp() + (long)(DeadTime.TotalSeconds * Stopwatch.Frequency));
                }
            }

            return (null, false);
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var client in _auth.Concat(_acct))
            {
                await client.DisposeAsync();
            }
        }
    }

    private sealed class Tally
    {
        private int _loggedIn;
        private int _viaBackup;
        private int _rejected;
        private int _givenUp;

        public int Rejected => Volatile.Read(ref _rejected);

        public int GivenUp => Volatile.Read(ref _givenUp);

        public void LogIn(bool viaBackup)
        {
            Interlocked.Increment(ref _loggedIn);
            if (viaBackup)
            {
                Interlocked.Increment(ref _viaBackup);
            }
        }

        public void Reject() => Interlocked.Increment(ref _rejected);

        public void GiveUp() => Interlocked.Increment(ref _givenUp);

        public string Summary() => string.Create(CultureInfo.InvariantCulture,
            $"{_loggedIn:N0} logged in ({_viaBackup:N0} through the backup), {Rejected:N0} rejected, {GivenUp:N0} given up");
    }
}
