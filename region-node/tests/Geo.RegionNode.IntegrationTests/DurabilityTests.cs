using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Geo.Engines;
using Geo.Engines.Services;
using Geo.Radius;
using Geo.Radius.Dictionary;
using Npgsql;

namespace Geo.RegionNode.IntegrationTests;

/// <summary>No acknowledged accounting is ever lost, even when the node dies mid-burst.</summary>
[Collection(RegionFixtureGroup.Name)]
public sealed class DurabilityTests(RegionFixture stack)
{
    private static readonly HttpClient Http = new();

    [Fact]
    public async Task AccountingBurst_NodeSigkilledMidway_EveryAcknowledgedRequestIsCommitted()
    {
        // A second node for region a, as its own OS process, so that it can be SIGKILLed.
        var (authPort, acctPort, httpPort) = (LoopbackPorts.FreeUdpPort(), LoopbackPorts.FreeUdpPort(), LoopbackPorts.FreeTcpPort());
        var inv = CultureInfo.InvariantCulture;
        var node = await ServiceProcess.StartAsync(Path.Combine(Path.GetDirectoryName(stack.StateDir)!, "sigkill-node"),
            GeoProgram.RegionNode.Locate(),
        [
            "--urls", $"http://127.0.0.1:{httpPort.ToString(inv)}",
            "--Management:Url=http://127.0.0.1:0",
            "--Logging:LogLevel:Default=Warning",
            "--RegionNode:RegionId=a",
            $"--RegionNode:DirectoryConnectionString={stack.AsNode(stack.DirectoryConnectionString)}",
            $"--RegionNode:PostgresConnectionString={new NpgsqlConnectionStringBuilder(stack.AsNode(stack.ShardConnectionString)) { Database = null }.ConnectionString}",
            $"--RegionNode:RedisEndpoint={stack.Redis.Endpoint}",
            $"--RegionNode:RedisPasswordFile={stack.Redis.PasswordFile}",
            $"--RegionNode:KeyringFile={stack.Layout.KeyringFile}",
            "--RegionNode:RadiusBindAddress=127.0.0.1",
            $"--RegionNode:AuthPort={authPort.ToString(inv)}",
            $"--RegionNode:AcctPort={acctPort.ToString(inv)}",
        ]);
        await node.WaitUntilReadyAsync(async ct =>
        {
            try
            {
                using var response = await Http.GetAsync(new Uri($"http://127.0.0.1:{httpPort.ToString(inv)}/health/ready"), ct);
                return response.IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(60));

        var burst = $"burst-{Guid.NewGuid():N}"[..14];
        var acknowledged = new ConcurrentDictionary<string, bool>();
        var killAfter = 400;
        var killed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var nodeGone = new CancellationTokenSource();
        var server = new IPEndPoint(IPAddress.Loopback, acctPort);
        var secret = Encoding.UTF8.GetBytes(stack.NasSecret);
        var (user, _) = stack.Subscriber(10);

        // 40 NAS sockets with up to 250 Accounting-Starts each, at most 8 unanswered per socket (as a NAS does), so the
        // burst lasts until the kill however slow the machine is; no identifier is reused, so every answer names its request.
        const int Sockets = 40, PerSocket = 250, Window = 8;
        var senders = Enumerable.Range(0, Sockets).Select(socketIndex => Task.Run(async () =>
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            socket.Bind(new IPEndPoint(IPAddress.Parse(RegionFixture.NasAddress), 0));
            using var window = new SemaphoreSlim(Window);
            var sessions = new string?[256];
            var buffer = new byte[4096];
            void Record(int length)
            {
                if (length >= 20 && buffer[0] == (byte)RadiusCode.AccountingResponse && Volatile.Read(ref sessions[buffer[1]]) is { } session)
                {
                    acknowledged[session] = true;
                    window.Release();
                    if (acknowledged.Count >= killAfter)
                    {
                        killed.TrySetResult();
                    }
                }
            }

            var receiver = Task.Run(async () =>
            {
                try
                {
                    while (true)
                    {
                        Record(await socket.ReceiveAsync(buffer, SocketFlags.None, nodeGone.Token));
                    }
                }
                catch (OperationCanceledException)
                {
                    // The node is dead: whatever answers it sent are already in this socket's buffer.
                    while (socket.Available > 0)
                    {
                        Record(socket.Receive(buffer));
                    }
                }
            });

            var packet = new byte[4096];
            for (var i = 0; i < PerSocket && !killed.Task.IsCompleted; i++)
            {
                // A request left unanswered for 5 s frees its place in the window; it simply stays unacknowledged.
                await window.WaitAsync(TimeSpan.FromSeconds(5));
                var id = (byte)i;
                var session = $"{burst}-{socketIndex}-{i}";
                Volatile.Write(ref sessions[id], session);
                var writer = new RadiusPacketWriter(packet, RadiusCode.AccountingRequest, id);
                writer.AddString(RadiusAttributeType.UserName, user);
                writer.AddUInt32(RadiusAttributeType.AcctStatusType, (uint)AcctStatusType.Start);
                writer.AddString(RadiusAttributeType.AcctSessionId, session);
                var length = writer.FinishRequest(secret);
                await socket.SendToAsync(packet.AsMemory(0, length), SocketFlags.None, server);
            }

            await receiver;
        })).ToArray();

        await killed.Task.WaitAsync(TimeSpan.FromSeconds(90));
        // Read once: once the node is gone its pid file names nothing.
        var pid = node.Pid!.Value;
        Assert.True(await Processes.SignalAsync(pid, "KILL"), "could not SIGKILL the node");
        Assert.True(await Processes.WaitForExitAsync(pid, TimeSpan.FromSeconds(30)), "the node outlived SIGKILL");
        await nodeGone.CancelAsync();
        await Task.WhenAll(senders);
        var acked = acknowledged.Keys.ToHashSet();

        await using var connection = new NpgsqlConnection(stack.ShardConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT acct_session_id FROM sessions WHERE acct_session_id LIKE $1", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = burst + "-%" });
        var committed = new HashSet<string>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                committed.Add(reader.GetString(0));
            }
        }

        Assert.True(acked.Count >= killAfter, $"only {acked.Count} acknowledged before the kill");
        Assert.True(acked.Count < Sockets * PerSocket, "the node was killed after the burst, not in the middle of it");
        Assert.Empty(acked.Except(committed));
    }
}
