using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Geo.Radius;
using Geo.Radius.Dictionary;
using Npgsql;

namespace Geo.RegionNode.IntegrationTests;

/// <summary>
/// One bad accounting request fails alone, never the group commit it arrived with: every valid request of the batch, from
/// every NAS, is committed and answered, the bad one is counted and left unanswered, and its retransmissions change nothing.
/// Each test holds the shard's group commit on a lock until every request is queued, so they all share one batch.
/// </summary>
[Collection(RegionFixtureGroup.Name)]
public sealed class PoisonRequestTests(RegionFixture stack)
{
    private const string Shard = "shard=\"acme@a\"";
    private const int ValidPerNas = 100;

    [Fact]
    public async Task GroupCommit_DatabaseRefusesOneRequest_RestOfBatchCommittedAndAnswered()
    {
        var run = Run();
        var poisonSession = $"{run}-poison";
        // A rule the shard enforces that this one request breaks: what any value PostgreSQL refuses (a check, a
        // reference, an encoding) does to a batch.
        await NodeProbe.ScalarAsync<object>(stack.ShardConnectionString,
            $"ALTER TABLE sessions ADD CONSTRAINT poison_{run.Replace('-', '_')} CHECK (acct_session_id <> '{poisonSession}') NOT VALID");
        try
        {
            var refused = await MetricAsync("geo_accounting_rejected_total{reason=\"refused_by_database\"}");
            var again = await MetricAsync("geo_accounting_rejected_total{reason=\"refused_again\"}");
            var failures = await MetricAsync("geo_accounting_commit_failures_total");
            var splits = await MetricAsync("geo_accounting_commit_splits_total");
            var (user, _) = stack.Subscriber(1);
            await using var traffic = await Traffic.StartAsync(stack);
            var poison = traffic.Request("acme-bng-a", user, poisonSession);

            var valid = await traffic.SendInOneBatchAsync(run, [poison]);

            await traffic.AnsweredAsync(valid, "every valid request is answered");
            await NodeProbe.WaitUntilAsync(async () => await MetricAsync("geo_accounting_rejected_total{reason=\"refused_by_database\"}") == refused + 1,
                "the poisoned request is refused");
            Assert.DoesNotContain(poison.Key, traffic.Answered);
            Assert.Equal(2 * ValidPerNas, await CommittedAsync(run));
            Assert.Equal(0L, await NodeProbe.ScalarAsync<long>(stack.ShardConnectionString, "SELECT count(*) FROM sessions WHERE acct_session_id = $1", poisonSession));
            Assert.Equal(failures, await MetricAsync("geo_accounting_commit_failures_total"));
            Assert.True(await MetricAsync("geo_accounting_commit_splits_total") > splits, "the batch was not split: the poisoned request was not in it");

            // The NAS retransmits it: refused again at once, without a transaction, and nothing else changes.
            for (var i = 1; i <= 3; i++)
            {
                await traffic.SendAsync(poison);
                var expected = again + i;
                await NodeProbe.WaitUntilAsync(async () => await MetricAsync("geo_accounting_rejected_total{reason=\"refused_again\"}") == expected,
                    $"retransmission {i} is refused again (refused by the database: {await MetricAsync("geo_accounting_rejected_total{reason=\"refused_by_database\"}") - refused})");
            }

            Assert.DoesNotContain(poison.Key, traffic.Answered);
            Assert.Equal(failures, await MetricAsync("geo_accounting_commit_failures_total"));
            Assert.Equal(2 * ValidPerNas, await CommittedAsync(run));
        }
        finally
        {
            await NodeProbe.ScalarAsync<object>(stack.ShardConnectionString, $"ALTER TABLE sessions DROP CONSTRAINT IF EXISTS poison_{run.Replace('-', '_')}");
        }
    }

    [Fact]
    public async Task GroupCommit_ForeignClassAndBadAttributes_EachFailsAloneOrFallsBackToUserName()
    {
        var run = Run();
        var (user, _) = stack.Subscriber(2);
        var userId = await NodeProbe.ScalarAsync<Guid>(stack.ShardConnectionString, "SELECT id FROM subscribers WHERE username = $1", user);
        // A subscriber moved (behind the node's back) to a plan the node's catalog has not loaded.
        var (movedUser, _) = stack.Subscriber(4);
        var movedId = await NodeProbe.ScalarAsync<Guid>(stack.ShardConnectionString, "SELECT id FROM subscribers WHERE username = $1", movedUser);
        var originalPlan = await NodeProbe.ScalarAsync<string>(stack.ShardConnectionString, "SELECT plan_id FROM subscribers WHERE id = $1", movedId);
        await NodeProbe.ScalarAsync<object>(stack.ShardConnectionString, $"INSERT INTO plans (id, display_name) VALUES ('{run}', 'unknown to the node')");
        await NodeProbe.ScalarAsync<object>(stack.ShardConnectionString, "UPDATE subscribers SET plan_id = $1 WHERE id = $2", run, movedId);
        try
        {
            var unknown = await MetricAsync("geo_accounting_rejected_total{reason=\"unknown_subscriber\"}");
            var badAttribute = await MetricAsync("geo_accounting_rejected_total{reason=\"bad_attribute\"}");
            var stale = await MetricAsync("geo_accounting_stale_class_total");
            var failures = await MetricAsync("geo_accounting_commit_failures_total");
            await using var traffic = await Traffic.StartAsync(stack);
            // A Class naming a subscriber id this shard never held (stale after a restore, or from another deployment).
            var foreignClass = $"geo:acme:a:{Guid.NewGuid():N}";
            var staleClass = traffic.Request("acme-bng-a", user, $"{run}-stale", foreignClass);
            var noSuchUser = traffic.Request("acme-bng-b", $"nobody-{run}", $"{run}-nobody", foreignClass);
            var nulSession = traffic.Request("acme-bng-a", user, $"{run}-nul\0x");
            var hugeCounter = traffic.Request("acme-bng-b", user, $"{run}-huge", gigawords: uint.MaxValue);
            // Counters going backwards within the batch: re-based and flagged, never a failure.
            var backStart = traffic.Request("acme-bng-a", user, $"{run}-back", octets: 5000);
            var backInterim = traffic.Request("acme-bng-a", user, $"{run}-back", status: AcctStatusType.InterimUpdate, octets: 10);
            var unknownPlan = traffic.Request("acme-bng-b", movedUser, $"{run}-plan", $"geo:acme:a:{movedId:N}");

            var valid = await traffic.SendInOneBatchAsync(run, [staleClass, noSuchUser, nulSession, hugeCounter, backStart, backInterim, unknownPlan]);

            await traffic.AnsweredAsync([.. valid, staleClass, backStart, backInterim, unknownPlan],
                "every valid request — with a stale Class, counters going backwards, an unknown plan — is answered");
            await NodeProbe.WaitUntilAsync(async () => await MetricAsync("geo_accounting_rejected_total{reason=\"unknown_subscriber\"}") == unknown + 1,
                "the request of a subscriber the shard does not hold is refused");
            Assert.DoesNotContain(noSuchUser.Key, traffic.Answered);
            Assert.DoesNotContain(nulSession.Key, traffic.Answered);
            Assert.DoesNotContain(hugeCounter.Key, traffic.Answered);
            Assert.Equal(badAttribute + 2, await MetricAsync("geo_accounting_rejected_total{reason=\"bad_attribute\"}"));
            Assert.Equal(stale + 1, await MetricAsync("geo_accounting_stale_class_total"));
            Assert.Equal(failures, await MetricAsync("geo_accounting_commit_failures_total"));
            Assert.Equal(2 * ValidPerNas, await CommittedAsync(run));
            // The stale Class's session is the User-Name's subscriber's.
            Assert.Equal(userId, await NodeProbe.ScalarAsync<Guid>(stack.ShardConnectionString, "SELECT subscriber_id FROM sessions WHERE acct_session_id = $1", $"{run}-stale"));
            Assert.Equal(movedId, await NodeProbe.ScalarAsync<Guid>(stack.ShardConnectionString, "SELECT subscriber_id FROM sessions WHERE acct_session_id = $1", $"{run}-plan"));
        }
        finally
        {
            await NodeProbe.ScalarAsync<object>(stack.ShardConnectionString, "UPDATE subscribers SET plan_id = $1 WHERE id = $2", originalPlan!, movedId);
        }
    }

    private static string Run() => $"p{Guid.NewGuid():N}"[..12];

    private Task<long> MetricAsync(string series) => NodeProbe.MetricAsync(stack.Node, series);

    /// <summary>The valid sessions of the run committed in the shard (the stale-Class one apart).</summary>
    private async Task<long> CommittedAsync(string run) =>
        await NodeProbe.ScalarAsync<long>(stack.ShardConnectionString, "SELECT count(*) FROM sessions WHERE acct_session_id LIKE $1", $"{run}-v-%");

    /// <summary>Two NAS of the tenant (acme-bng-a and acme-bng-b), each one UDP socket, sending Accounting-Starts to the node.</summary>
    private sealed class Traffic : IAsyncDisposable
    {
        private readonly RegionFixture _stack;
        private readonly Dictionary<string, (Socket Socket, byte[] Secret)> _nas = [];
        private readonly CancellationTokenSource _stop = new();
        private readonly List<Task> _receivers = [];
        private readonly Dictionary<string, int> _next = [];

        private Traffic(RegionFixture stack) => _stack = stack;

        public ConcurrentDictionary<(string Nas, byte Id), bool> Answered { get; } = new();

        public static Task<Traffic> StartAsync(RegionFixture stack)
        {
            var traffic = new Traffic(stack);
            foreach (var (nas, address) in new[] { ("acme-bng-a", "127.0.10.1"), ("acme-bng-b", "127.0.10.2") })
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                socket.Bind(new IPEndPoint(IPAddress.Parse(address), 0));
                traffic._nas[nas] = (socket, Encoding.UTF8.GetBytes(File.ReadAllText(stack.Layout.NasSecretFile(nas)).Trim()));
                traffic._next[nas] = 0;
                traffic._receivers.Add(traffic.ReceiveAsync(nas, socket));
            }

            return Task.FromResult(traffic);
        }

        /// <summary>An Accounting-Start of <paramref name="session"/> from <paramref name="nas"/>, with its own identifier.</summary>
        public Outgoing Request(string nas, string user, string session, string? @class = null, uint gigawords = 0,
            AcctStatusType status = AcctStatusType.Start, uint octets = 1000)
        {
            var id = (byte)_next[nas]++;
            var buffer = new byte[4096];
            var writer = new RadiusPacketWriter(buffer, RadiusCode.AccountingRequest, id);
            writer.AddString(RadiusAttributeType.UserName, user);
            writer.AddUInt32(RadiusAttributeType.AcctStatusType, (uint)status);
            writer.AddString(RadiusAttributeType.AcctSessionId, session);
            writer.AddUInt32(RadiusAttributeType.AcctInputOctets, octets);
            writer.AddUInt32(RadiusAttributeType.AcctInputGigawords, gigawords);
            if (@class is not null)
            {
                writer.AddString(RadiusAttributeType.Class, @class);
            }

            return new Outgoing((nas, id), buffer[..writer.FinishRequest(_nas[nas].Secret)]);
        }

        public async Task SendAsync(Outgoing request) =>
            await _nas[request.Key.Nas].Socket.SendToAsync(request.Datagram, SocketFlags.None, _stack.Acct);

        /// <summary>
        /// Holds the shard's group commit on the fence's lock, queues <paramref name="extra"/> among 100 valid Starts per NAS
        /// (sessions <c>run-v-*</c>), then lets the commit go: they all meet in one batch. Returns the valid requests.
        /// </summary>
        public async Task<List<Outgoing>> SendInOneBatchAsync(string run, IReadOnlyList<Outgoing> extra)
        {
            var (user, _) = _stack.Subscriber(3);
            await using var holder = new NpgsqlConnection(_stack.ShardConnectionString);
            await holder.OpenAsync();
            await using var transaction = await holder.BeginTransactionAsync();
            await using (var lockFence = new NpgsqlCommand("LOCK TABLE shard_fence IN EXCLUSIVE MODE", holder, transaction))
            {
                await lockFence.ExecuteNonQueryAsync();
            }

            // One request takes the group commit into the lock; the next batch then gathers everything sent meanwhile.
            var blocker = Request("acme-bng-a", user, $"{run}-blocker");
            await SendAsync(blocker);
            await NodeProbe.WaitUntilAsync(async () => await NodeProbe.ScalarAsync<long>(_stack.ShardConnectionString,
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'shard_fence' AND NOT l.granted") > 0,
                "the group commit waits on the fence");

            var valid = new List<Outgoing>();
            for (var i = 0; i < ValidPerNas; i++)
            {
                valid.Add(Request("acme-bng-a", user, $"{run}-v-a{i}"));
                valid.Add(Request("acme-bng-b", user, $"{run}-v-b{i}"));
            }

            var all = new List<Outgoing>(valid);
            all.InsertRange(all.Count / 2, extra);
            foreach (var request in all)
            {
                await SendAsync(request);
            }

            await NodeProbe.WaitUntilAsync(async () => await NodeProbe.MetricAsync(_stack.Node, $"geo_accounting_queue_depth{{{Shard}}}") >= all.Count - 2,
                "every request is queued behind the held group commit");
            await transaction.CommitAsync();
            return valid;
        }

        /// <summary>Waits until every one of <paramref name="requests"/> is answered.</summary>
        public Task AnsweredAsync(IReadOnlyList<Outgoing> requests, string what) =>
            Geo.Testing.Eventually.TrueAsync(() => Task.FromResult(requests.All(r => Answered.ContainsKey(r.Key))), TimeSpan.FromSeconds(30),
                what, TimeSpan.FromMilliseconds(20));

        private async Task ReceiveAsync(string nas, Socket socket)
        {
            var buffer = new byte[4096];
            try
            {
                while (true)
                {
                    var length = await socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                    if (length >= 20 && buffer[0] == (byte)RadiusCode.AccountingResponse)
                    {
                        Answered[(nas, buffer[1])] = true;
                    }
                }
            }
            catch (OperationCanceledException)
            {
                // The test is over.
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await Task.WhenAll(_receivers);
            foreach (var (socket, _) in _nas.Values)
            {
                socket.Dispose();
            }

            _stop.Dispose();
        }
    }

    private sealed record Outgoing((string Nas, byte Id) Key, byte[] Datagram);
}
