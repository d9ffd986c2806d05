using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using Geo.Radius;
using Geo.Radius.Dictionary;
using Geo.RegionNode.Shards;
using Geo.Testing;
using Npgsql;

namespace Geo.RegionNode.IntegrationTests;

/// <summary>Charging from accounting, exhaustion actions sent to a stand-in NAS, and the ledger invariant after each.</summary>
[Collection(RegionFixtureGroup.Name)]
public sealed class ChargingTests(RegionFixture stack)
{
    [Fact]
    public async Task PrepaidQuotaRunsOut_DisconnectRequestAcknowledged_NextLoginRejected()
    {
        // Subscriber 19 is on prepaid-5g: 5 GB, 2,000 micro-units per MB, 10.00 balance, disconnect at exhaustion.
        var (user, password) = stack.Subscriber(19);
        await using var nas = await StandInNas.StartAsync(stack);
        var session = $"prepaid-{Guid.NewGuid():N}";
        await Acct(user, session, "Start", 0, 0);
        await Acct(user, session, "Interim-Update", 1_000_000_000, 300);

        // 6 GB: more than both the bucket and the balance allow.
        await Acct(user, session, "Interim-Update", 6_000_000_000, 600);

        var request = await nas.NextRequestAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(RadiusCode.DisconnectRequest, request.Code);
        Assert.True(request.TryGetString(RadiusAttributeType.AcctSessionId, out var acctSessionId));
        Assert.Equal(session, acctSessionId);
        Assert.Equal("ack", await WaitForOutcomeAsync(session));
        Assert.Equal(0L, await NodeProbe.ScalarAsync<long>(stack.ShardConnectionString,
            "SELECT amount_micros FROM balances b JOIN subscribers s ON s.id = b.subscriber_id WHERE s.username = $1", user));
        var (_, login) = await Radclient.SendAsync(stack.Auth, "auth", stack.NasSecret,
            $"User-Name = \"{user}\"\nUser-Password = \"{password}\"\nMessage-Authenticator = 0x00\nPacket-Src-IP-Address = {RegionFixture.NasAddress}");
        Assert.Contains("Received Access-Reject", login, StringComparison.Ordinal);
        Assert.Contains("Balance exhausted", login, StringComparison.Ordinal);
        await AssertLedgerInvariantAsync();
    }

    [Fact]
    public async Task FairUseQuotaRunsOut_CoaWithThrottledRate_NextLoginThrottled()
    {
        // Subscriber 17 is on fair-use-100g: 100 GB a month, then throttled to 1024/512 kbit/s.
        var (user, password) = stack.Subscriber(17);
        await using var nas = await StandInNas.StartAsync(stack);
        var session = $"fairuse-{Guid.NewGuid():N}";
        await Acct(user, session, "Start", 0, 0);

        await Acct(user, session, "Interim-Update", 101_000_000_000, 3600);

        var request = await nas.NextRequestAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(RadiusCode.CoARequest, request.Code);
        Assert.True(request.TryGetVendorString(RadiusVendorId.Mikrotik, MikrotikAttributeType.RateLimit, out var rate));
        Assert.Equal("512k/1024k", rate);
        Assert.Equal("ack", await WaitForOutcomeAsync(session));
        await Acct(user, session, "Stop", 101_000_000_000, 3700);
        var (_, login) = await Radclient.SendAsync(stack.Auth, "auth", stack.NasSecret,
            $"User-Name = \"{user}\"\nUser-Password = \"{password}\"\nMessage-Authenticator = 0x00\nPacket-Src-IP-Address = {RegionFixture.NasAddress}");
        Assert.Contains("Received Access-Accept", login, StringComparison.Ordinal);
        Assert.Contains("Mikrotik-Rate-Limit = \"512k/1024k\"", login, StringComparison.Ordinal);
        await AssertLedgerInvariantAsync();
    }

    [Fact]
    public async Task RandomAccountingWithDuplicatesReordersReplaysAndNasReboots_EverySessionChargedExactlyItsUsage()
    {
        // Prepaid subscribers 29..89 (every tenth), given a large balance by a top-up so that nothing is capped.
        var random = new Random(20261122);
        var subscribers = Enumerable.Range(0, 7).Select(i => stack.Subscriber(29 + i * 10).Username).ToArray();
        foreach (var user in subscribers)
        {
            await NodeProbe.ScalarAsync<object>(stack.ShardConnectionString, """
                WITH s AS (SELECT id FROM subscribers WHERE username = $1),
                     b AS (UPDATE balances SET amount_micros = amount_micros + 1000000000000 WHERE subscriber_id = (SELECT id FROM s) RETURNING amount_micros)
                INSERT INTO ledger_entries (id, subscriber_id, kind, amount_micros, balance_after_micros, idempotency_key)
                SELECT gen_random_uuid(), (SELECT id FROM s), 'topup', 1000000000000, (SELECT amount_micros FROM b), gen_random_uuid()::text
                """, user);
            await NodeProbe.ScalarAsync<object>(stack.ShardConnectionString,
                "UPDATE quota_buckets SET granted = 1000000000000000 WHERE subscriber_id = (SELECT id FROM subscribers WHERE username = $1)", user);
        }

        var secret = Encoding.UTF8.GetBytes(stack.NasSecret);
        var expected = new Dictionary<string, long>();
        using var nas = new NodeProbe.Peer(IPAddress.Parse(RegionFixture.NasAddress));
        for (var s = 0; s < 40; s++)
        {
            var user = subscribers[s % subscribers.Length];
            var session = $"prop-{s}-{Guid.NewGuid():N}";
            var deliveries = new List<(AcctStatusType Status, long Bytes, long Seconds)> { (AcctStatusType.Start, 0, 0) };
            long seconds = 0, total = 0, ceiling = 15_000_000_000;
            var epochs = random.Next(1, 3);
            for (var epoch = 0; epoch < epochs; epoch++)
            {
                // One counter epoch: cumulative counters from zero. A later epoch is a counter reset (NAS counter
                // restart or wrap), which shows as counters going backwards: it stays below the previous epoch's end.
                var reports = new List<(AcctStatusType, long, long)>();
                long bytes = 0;
                var count = random.Next(1, 6);
                for (var i = 0; i < count; i++)
                {
                    bytes += random.NextInt64(0, ceiling / count);
                    seconds += random.Next(1, 600);
                    reports.Add((AcctStatusType.InterimUpdate, bytes, seconds));
                }

                ceiling = Math.Max(1, bytes);

                total += bytes;
                var shuffled = reports.Concat(reports.Where(_ => random.Next(3) == 0)).OrderBy(_ => random.Next()).ToList();
                // The epoch's last report arrives last, so later epochs can tell a reboot from a reorder.
                shuffled.Add(reports[^1]);
                deliveries.AddRange(shuffled);
            }

            deliveries.Add((AcctStatusType.Stop, deliveries[^1].Bytes, seconds));
            deliveries.Add((AcctStatusType.Stop, deliveries[^1].Bytes, seconds));
            expected[session] = total;
            foreach (var (status, bytes, time) in deliveries)
            {
                var datagram = AccountingRequest((byte)random.Next(256), user, session, status, bytes, time, secret);
                Assert.NotNull(await nas.ExchangeAsync(datagram, stack.Acct, TimeSpan.FromSeconds(5)));
                if (random.Next(5) == 0)
                {
                    // A retransmission of the same datagram, answered from the duplicate cache.
                    Assert.NotNull(await nas.ExchangeAsync(datagram, stack.Acct, TimeSpan.FromSeconds(5)));
                }
            }
        }

        foreach (var (session, bytes) in expected)
        {
            Assert.Equal(bytes, await NodeProbe.ScalarAsync<long>(stack.ShardConnectionString, "SELECT billed_bytes FROM sessions WHERE acct_session_id = $1", session));
            Assert.Equal(bytes, await NodeProbe.ScalarAsync<long>(stack.ShardConnectionString,
                "SELECT coalesce(sum(c.delta_input_octets), 0)::bigint FROM cdrs c JOIN sessions s ON s.id = c.session_id WHERE s.acct_session_id = $1", session));
            // Money priced on the cumulative usage: the sum of the CDR charges is the cost of the whole session, to the micro-unit.
            Assert.Equal(Rating.Rater.Cost(bytes, 2000, 1_000_000), await NodeProbe.ScalarAsync<long>(stack.ShardConnectionString,
                "SELECT coalesce(sum(c.charged_micros), 0)::bigint FROM cdrs c JOIN sessions s ON s.id = c.session_id WHERE s.acct_session_id = $1", session));
        }

        Assert.Equal(0L, await NodeProbe.ScalarAsync<long>(stack.ShardConnectionString, "SELECT count(*) FROM quota_buckets WHERE used > granted"));
        await AssertLedgerInvariantAsync();
    }

    [Theory]
    [InlineData("quota_buckets", 109)]
    [InlineData("sessions", 119)]
    public async Task RowChangedByAnotherTransactionBetweenReadAndWrite_GroupCommitStartsOverAndChargesOnce(string table, int subscriber)
    {
        // A group commit reads sessions, buckets and balances without a lock and writes each only where it still holds
        // what was read. Here another transaction (as another node handling the same subscriber would) changes the row
        // between the two: the group commit starts over from its reads, and the new usage is charged once.
        var (user, _) = stack.Subscriber(subscriber);
        var session = $"race-{Guid.NewGuid():N}";
        await Acct(user, session, "Start", 0, 0);
        await Acct(user, session, "Interim-Update", 1_000_000, 60);
        const string Bucket = "SELECT q.used FROM quota_buckets q JOIN subscribers s ON s.id = q.subscriber_id WHERE s.username = $1 AND q.kind = 'data' AND q.period_start <= now() AND (q.period_end IS NULL OR q.period_end > now())";
        var bucket = await NodeProbe.ScalarAsync<long>(stack.ShardConnectionString, Bucket, user);
        var balance = await NodeProbe.ScalarAsync<long>(stack.ShardConnectionString, BalanceOf, user);
        var retries = await NodeProbe.MetricAsync(stack.Node, "geo_accounting_commit_retries_total");

        var bucketId = Bucket.Replace("SELECT q.used", "SELECT q.id", StringComparison.Ordinal);
        var (lockRow, changeRow, key, otherUse) = table == "sessions"
            ? ("SELECT id FROM sessions WHERE acct_session_id = $1 FOR UPDATE", "UPDATE sessions SET last_update_at = last_update_at WHERE acct_session_id = $1", session, 0L)
            : ($"{bucketId} FOR UPDATE OF q", $"UPDATE quota_buckets SET used = used + 1 WHERE id = ({bucketId})", user, 1L);
        await WhileAnotherTransactionChangesTheRowAsync(lockRow, changeRow, key, $"UPDATE {table}", () => Acct(user, session, "Interim-Update", 3_000_000, 120));

        Assert.True(await NodeProbe.MetricAsync(stack.Node, "geo_accounting_commit_retries_total") > retries, "the group commit did not start over");
        Assert.Equal(3_000_000L, await NodeProbe.ScalarAsync<long>(stack.ShardConnectionString, "SELECT input_octets FROM sessions WHERE acct_session_id = $1", session));
        Assert.Equal(3_000_000L, await NodeProbe.ScalarAsync<long>(stack.ShardConnectionString,
            "SELECT sum(c.delta_input_octets)::bigint FROM cdrs c JOIN sessions s ON s.id = c.session_id WHERE s.acct_session_id = $1", session));
        // The 2,000,000 new octets used from the bucket and charged once: 2 MB at 2,000 micro-units per MB (decimal megabytes).
        Assert.Equal(bucket + otherUse + 2_000_000, await NodeProbe.ScalarAsync<long>(stack.ShardConnectionString, Bucket, user));
        Assert.Equal(balance - 4_000, await NodeProbe.ScalarAsync<long>(stack.ShardConnectionString, BalanceOf, user));
        await AssertLedgerInvariantAsync();
    }

    [Fact]
    public async Task BalanceAndGrantChangedByHandAfterTheNodeRememberedThem_NextChargeReadsThemAgainAndChargesOnce()
    {
        // The group commit remembers the bucket and balance it wrote, and does not read them for the next charge.
        // Here they are changed behind the node's back (SQL by hand, no API, so no cache message): the next charge's
        // compare-and-set fails, the group commit starts over from fresh reads, and charges once on the new values.
        // Subscribers 129 and 139 (prepaid-5g) are used by these two tests only.
        var (user, session, balance) = await ChargedOnceAsync(129);
        var remembered = await NodeProbe.MetricAsync(stack.Node, "geo_accounting_commit_memory_total{kind=\"account\",source=\"remembered\"}");
        await NodeProbe.ScalarAsync<object>(stack.ShardConnectionString, """
            WITH s AS (SELECT id FROM subscribers WHERE username = $1),
                 b AS (UPDATE balances SET amount_micros = amount_micros + 7000 WHERE subscriber_id = (SELECT id FROM s) RETURNING amount_micros),
                 q AS (UPDATE quota_buckets SET granted = granted + 1 WHERE subscriber_id = (SELECT id FROM s) RETURNING 1)
            INSERT INTO ledger_entries (id, subscriber_id, kind, amount_micros, balance_after_micros, idempotency_key)
            SELECT gen_random_uuid(), (SELECT id FROM s), 'adjustment', 7000, (SELECT amount_micros FROM b), gen_random_uuid()::text
            WHERE (SELECT count(*) FROM q) > 0
            """, user);
        var retries = await NodeProbe.MetricAsync(stack.Node, "geo_accounting_commit_retries_total");

        await Acct(user, session, "Interim-Update", 3_000_000, 120);

        Assert.True(await NodeProbe.MetricAsync(stack.Node, "geo_accounting_commit_memory_total{kind=\"account\",source=\"remembered\"}") > remembered,
            "the second charge did not use the remembered account");
        Assert.True(await NodeProbe.MetricAsync(stack.Node, "geo_accounting_commit_retries_total") > retries, "the group commit did not start over");
        // 2,000,000 new octets at 2,000 micro-units per MB: 4,000, taken from the balance as changed by hand.
        Assert.Equal(balance + 7000 - 4000, await NodeProbe.ScalarAsync<long>(stack.ShardConnectionString, BalanceOf, user));
        Assert.Equal(4000L, await NodeProbe.ScalarAsync<long>(stack.ShardConnectionString,
            "SELECT c.charged_micros FROM cdrs c JOIN sessions s ON s.id = c.session_id WHERE s.acct_session_id = $1 AND c.input_octets = 3000000", session));
        await AssertLedgerInvariantAsync();
    }

    [Fact]
    public async Task PlanChangedThroughTheApiAfterTheNodeRememberedTheAccount_NextInterimIsRatedOnTheNewPlan()
    {
        // The remembered account carries the plan, which no write checks: a plan change through the API makes the node
        // forget it, so the next interim is rated on the new plan (home-50: not rated, nothing charged).
        var (user, session, balance) = await ChargedOnceAsync(139);
        Assert.True(balance > 0);
        using var api = stack.Api();
        using (var changed = await api.PatchAsJsonAsync($"/tenants/acme/subscribers/{user}", new { planId = "home-50" }))
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, changed.StatusCode);
        }

        await Acct(user, session, "Interim-Update", 5_000_000, 120);

        Assert.Equal(balance, await NodeProbe.ScalarAsync<long>(stack.ShardConnectionString, BalanceOf, user));
        Assert.Equal(0L, await NodeProbe.ScalarAsync<long>(stack.ShardConnectionString,
            "SELECT c.charged_micros FROM cdrs c JOIN sessions s ON s.id = c.session_id WHERE s.acct_session_id = $1 AND c.input_octets = 5000000", session));
        await AssertLedgerInvariantAsync();
    }

    /// <summary>A session of subscriber <paramref name="index"/> started and charged for 1 MB; its balance after.</summary>
    private async Task<(string User, string Session, long Balance)> ChargedOnceAsync(int index)
    {
        var (user, _) = stack.Subscriber(index);
        var session = $"charged-{Guid.NewGuid():N}";
        await Acct(user, session, "Start", 0, 0);
        await Acct(user, session, "Interim-Update", 1_000_000, 60);
        return (user, session, await NodeProbe.ScalarAsync<long>(stack.ShardConnectionString, BalanceOf, user));
    }

    private const string BalanceOf = "SELECT amount_micros FROM balances b JOIN subscribers s ON s.id = b.subscriber_id WHERE s.username = $1";

    /// <summary>
    /// Sends <paramref name="request"/> while another transaction holds the row <paramref name="lockRow"/> locks; once the
    /// node's <paramref name="nodeWrite"/> waits for that row, <paramref name="changeRow"/> changes it and the other
    /// transaction commits. Returns when the request was answered.
    /// </summary>
    private async Task WhileAnotherTransactionChangesTheRowAsync(string lockRow, string changeRow, string parameter, string nodeWrite, Func<Task> request)
    {
        await using var other = new NpgsqlConnection(stack.ShardConnectionString);
        await other.OpenAsync();
        await using var transaction = await other.BeginTransactionAsync();
        await using (var hold = new NpgsqlCommand(lockRow, other, transaction))
        {
            hold.Parameters.Add(new() { Value = parameter });
            Assert.NotNull(await hold.ExecuteScalarAsync());
        }

        var answered = request();
        await NodeProbe.WaitUntilAsync(async () => await NodeProbe.ScalarAsync<long>(stack.ShardConnectionString,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = 'geo_acme_a' AND wait_event_type = 'Lock' AND query LIKE $1", $"%{nodeWrite}%") > 0,
            $"the node's {nodeWrite} waits for the row");
        await using (var change = new NpgsqlCommand(changeRow, other, transaction))
        {
            change.Parameters.Add(new() { Value = parameter });
            Assert.Equal(1, await change.ExecuteNonQueryAsync());
        }

        await transaction.CommitAsync();
        await answered;
    }

    private async Task AssertLedgerInvariantAsync()
    {
        Assert.Equal(0L, await NodeProbe.ScalarAsync<long>(stack.ShardConnectionString, """
            SELECT count(*) FROM balances b
            LEFT JOIN (SELECT subscriber_id, sum(amount_micros) AS total FROM ledger GROUP BY subscriber_id) l USING (subscriber_id)
            WHERE b.amount_micros <> coalesce(l.total, 0)
            """));
        Assert.Equal(0L, await NodeProbe.ScalarAsync<long>(stack.ShardConnectionString, "SELECT count(*) FROM balances WHERE amount_micros < 0"));
    }

    private Task<string?> WaitForOutcomeAsync(string session) =>
        Eventually.ValueAsync(() => NodeProbe.ScalarAsync<string>(stack.ShardConnectionString,
                "SELECT r.outcome FROM change_requests r JOIN sessions s ON s.id = r.session_id WHERE s.acct_session_id = $1", session),
            outcome => outcome is not (null or "pending"), TimeSpan.FromSeconds(15), $"the change request of session {session} has an outcome");

    private async Task Acct(string user, string session, string status, long inputOctets, long sessionTime)
    {
        var (_, output) = await Radclient.SendAsync(stack.Acct, "acct", stack.NasSecret, string.Create(CultureInfo.InvariantCulture,
            $"User-Name = \"{user}\"\nAcct-Session-Id = \"{session}\"\nAcct-Status-Type = {status}\nAcct-Input-Octets = {inputOctets & 0xFFFFFFFF}\nAcct-Input-Gigawords = {inputOctets >> 32}\nAcct-Session-Time = {sessionTime}\nPacket-Src-IP-Address = {RegionFixture.NasAddress}"),
            tries: 3);
        // As a NAS does, radclient sends the request again when no answer comes within 2 s (a group commit that starts
        // over behind a lock can take that long on a loaded machine); the node answers a repeat without charging twice.
        Assert.Contains("Received Accounting-Response", output, StringComparison.Ordinal);
    }

    private static byte[] AccountingRequest(byte identifier, string user, string session, AcctStatusType status, long inputOctets, long sessionTime, byte[] secret)
    {
        var buffer = new byte[4096];
        var writer = new RadiusPacketWriter(buffer, RadiusCode.AccountingRequest, identifier);
        writer.AddString(RadiusAttributeType.UserName, user);
        writer.AddUInt32(RadiusAttributeType.AcctStatusType, (uint)status);
        writer.AddString(RadiusAttributeType.AcctSessionId, session);
        writer.AddUInt32(RadiusAttributeType.AcctInputOctets, (uint)(inputOctets & 0xFFFFFFFF));
        writer.AddUInt32(RadiusAttributeType.AcctInputGigawords, (uint)(inputOctets >> 32));
        writer.AddUInt32(RadiusAttributeType.AcctSessionTime, (uint)sessionTime);
        return buffer[..writer.FinishRequest(secret)];
    }

    /// <summary>A UDP listener standing in for the NAS's CoA port: answers every request with an ACK signed with the NAS secret.</summary>
    private sealed class StandInNas : IAsyncDisposable
    {
        private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        private readonly System.Threading.Channels.Channel<RadiusPacket> _requests = System.Threading.Channels.Channel.CreateUnbounded<RadiusPacket>();
        private readonly CancellationTokenSource _stop = new();
        private Task _loop = Task.CompletedTask;

        public static async Task<StandInNas> StartAsync(RegionFixture stack)
        {
            var nas = new StandInNas();
            nas._socket.Bind(new IPEndPoint(IPAddress.Parse(RegionFixture.NasAddress), 0));
            var port = ((IPEndPoint)nas._socket.LocalEndPoint!).Port;
            await NodeProbe.ScalarAsync<object>(stack.ShardConnectionString, "UPDATE nas_devices SET coa_port = $1 WHERE id = 'acme-bng-a'", port);
            await ((ShardCatalog)stack.Node.Services.GetService(typeof(ShardCatalog))!).RefreshAsync(CancellationToken.None);
            var secret = Encoding.UTF8.GetBytes(stack.NasSecret);
            nas._loop = Task.Run(async () =>
            {
                var buffer = new byte[4096];
                var any = new IPEndPoint(IPAddress.Any, 0);
                while (!nas._stop.IsCancellationRequested)
                {
                    SocketReceiveFromResult received;
                    try
                    {
                        received = await nas._socket.ReceiveFromAsync(buffer, SocketFlags.None, any, nas._stop.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }

                    if (RadiusPacket.TryRead(buffer.AsSpan(0, received.ReceivedBytes), out var request) != RadiusReadStatus.Ok)
                    {
                        continue;
                    }

                    nas._requests.Writer.TryWrite(request);
                    var answer = new byte[4096];
                    var writer = new RadiusPacketWriter(answer, request.Code == RadiusCode.DisconnectRequest ? RadiusCode.DisconnectAck : RadiusCode.CoAAck, request.Identifier);
                    var length = writer.FinishResponse(request, secret);
                    await nas._socket.SendToAsync(answer.AsMemory(0, length), SocketFlags.None, received.RemoteEndPoint);
                }
            });
            return nas;
        }

        public async Task<RadiusPacket> NextRequestAsync(TimeSpan timeout)
        {
            using var deadline = new CancellationTokenSource(timeout);
            return await _requests.Reader.ReadAsync(deadline.Token);
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _loop;
            _socket.Dispose();
            _stop.Dispose();
        }
    }
}
