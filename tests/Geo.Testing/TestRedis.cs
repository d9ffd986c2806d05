using Geo.Engines;
using Geo.Engines.Redis;

namespace Geo.Testing;

/// <summary>
/// A throwaway Redis in a temp folder on a free port, removed with its folder when disposed or when the
/// test process dies in any way (see <see cref="Reaper"/>).
/// </summary>
public sealed class TestRedis : IAsyncDisposable
{
    private static readonly Lazy<Task<TestRedis>> SharedInstance = new(() => StartTracked(StartAsync()));
    private readonly Reaper _reaper;

    private TestRedis(RedisServer server, Reaper reaper)
    {
        Server = server;
        _reaper = reaper;
    }

    /// <summary>The server.</summary>
    public RedisServer Server { get; }

    /// <summary>The server shared by every test of this assembly; started on first use, stopped at process exit.</summary>
    public static Task<TestRedis> SharedAsync() => SharedInstance.Value;

    /// <summary>Starts a server of its own, for tests that stop it.</summary>
    public static async Task<TestRedis> StartAsync(CancellationToken cancellationToken = default)
    {
        var directory = Path.Combine(TestFolders.Create("redis"), "server");
        var server = await RedisServer.StartAsync(new RedisServerOptions { Directory = directory }, cancellationToken);
        return new TestRedis(server, Reaper.Start(server.DestroyScript() + $"; rm -rf {Shell.Quote(Path.GetDirectoryName(directory)!)}"));
    }

    /// <summary>Kills the server and removes its folder.</summary>
    public ValueTask DisposeAsync()
    {
        _reaper.Dispose();
        return ValueTask.CompletedTask;
    }

    private static async Task<TestRedis> StartTracked(Task<TestRedis> starting)
    {
        var instance = await starting;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => instance._reaper.Dispose();
        return instance;
    }
}
