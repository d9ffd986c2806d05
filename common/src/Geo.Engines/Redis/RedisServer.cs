using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Geo.Engines.Redis;

/// <summary>
/// A private Redis server on a loopback port, daemonized, with its configuration in its folder so that it
/// reopens on the same port. Redis is a cache in Geo: append-only persistence keeps restarts cheap, and
/// nothing is lost when it is gone.
/// </summary>
public sealed class RedisServer
{
    private const string ConfigFileName = "redis.conf";

    private RedisServer(string directory, int port)
    {
        Directory = directory;
        Port = port;
    }

    /// <summary>The server's folder.</summary>
    public string Directory { get; }

    /// <summary>The loopback TCP port it listens on.</summary>
    public int Port { get; private set; }

    /// <summary>host:port, as StackExchange.Redis takes it.</summary>
    public string Endpoint => $"127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>The file holding the server's password (owner-only), when it requires one; it exists only then.</summary>
    public string PasswordFile => Path.Combine(Directory, "password");

    /// <summary>The password clients give (AUTH), or null when the server requires none.</summary>
    public string? Password => File.Exists(PasswordFile) ? File.ReadAllText(PasswordFile).Trim() : null;

    /// <summary>The server log.</summary>
    public string LogFile => Path.Combine(Directory, "redis.log");

    /// <summary>The server's pid, while it runs (never a pid its file names that a later process reused).</summary>
    public int? Pid => Processes.LivePidFromFile(PidFile);

    /// <summary>True when the server process is alive.</summary>
    public bool IsRunning => Pid is not null;

    private string PidFile => Path.Combine(Directory, "redis.pid");

    /// <summary>Creates the server's folder if needed, starts it, and waits until it answers PING.</summary>
    public static async Task<RedisServer> StartAsync(RedisServerOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var directory = Path.GetFullPath(options.Directory);
        var existingPort = ReadPort(directory);
        var server = new RedisServer(directory, existingPort ?? (options.Port == 0 ? LoopbackPorts.FreeTcpPort() : options.Port));
        System.IO.Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        if (existingPort is null)
        {
            if (options.RequirePassword)
            {
                PrivateFile.Write(server.PasswordFile, Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24)).ToLowerInvariant());
            }

            await server.WriteConfigAsync(cancellationToken);
        }

        if (server.IsRunning)
        {
            return server;
        }

        for (var attempt = 1; ; attempt++)
        {
            var result = await ProcessRunner.RunAsync("redis-server", [Path.Combine(directory, ConfigFileName)], cancellationToken);
            if (result.Succeeded && await server.WaitUntilReadyAsync(TimeSpan.FromSeconds(10), cancellationToken))
            {
                return server;
            }

            var log = File.Exists(server.LogFile) ? await File.ReadAllTextAsync(server.LogFile, cancellationToken) : "";
            if (log.Contains("Address already in use", StringComparison.Ordinal) && options.Port == 0 && existingPort is null && attempt < 5)
            {
                server.Port = LoopbackPorts.FreeTcpPort();
                await server.WriteConfigAsync(cancellationToken);
                continue;
            }

            throw new EngineException($"Redis in {directory} did not start on port {server.Port}: {result.Output.TrimEnd()} (see {server.LogFile})");
        }
    }

    /// <summary>Opens a server folder without starting it; null when the folder holds no server.</summary>
    public static RedisServer? Open(string directory)
    {
        var full = Path.GetFullPath(directory);
        return ReadPort(full) is { } port ? new RedisServer(full, port) : null;
    }

    /// <summary>Stops the server (SIGTERM: it flushes the append-only file) and waits for it to exit.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (Pid is not { } pid)
        {
            return;
        }

        await Processes.SignalAsync(pid, "TERM", cancellationToken);
        if (!await Processes.WaitForExitAsync(pid, TimeSpan.FromSeconds(30), cancellationToken))
        {
            throw new EngineException($"Redis (pid {pid}) did not stop within 30 s");
        }
    }

    /// <summary>A shell script that kills this server and removes its folder, for a <see cref="Reaper"/>.</summary>
    public string DestroyScript() =>
        $"{Processes.PidFileFunctionsScript} geo_reap {Shell.Quote(PidFile)}; rm -rf {Shell.Quote(Directory)}";

    /// <summary>True when the server answers PING within the timeout.</summary>
    public async Task<bool> WaitUntilReadyAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (await PingAsync(cancellationToken))
            {
                return true;
            }

            if (DateTime.UtcNow >= deadline)
            {
                return false;
            }

            await Task.Delay(20, cancellationToken);
        }
    }

    /// <summary>One PING over a fresh connection: true on +PONG.</summary>
    public async Task<bool> PingAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            using var client = new TcpClient();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(2));
            await client.ConnectAsync("127.0.0.1", Port, timeout.Token);
            var stream = client.GetStream();
            // With a password, AUTH first: its answer (+OK, or -WRONGPASS) comes before PING's.
            var password = Password;
            var command = password is null ? "PING\r\n" : $"AUTH {password}\r\nPING\r\n";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(command), timeout.Token);
            var answer = new StringBuilder();
            var buffer = new byte[64];
            while (answer.ToString().Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Length < (password is null ? 1 : 2))
            {
                var read = await stream.ReadAsync(buffer, timeout.Token);
                if (read == 0)
                {
                    return false;
                }

                answer.Append(Encoding.ASCII.GetString(buffer, 0, read));
            }

            return answer.ToString().EndsWith("+PONG\r\n", StringComparison.Ordinal);
        }
        catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    private async Task WriteConfigAsync(CancellationToken cancellationToken)
    {
        var config = $"""
            # Written by Geo.Engines: a private Redis on loopback.
            bind 127.0.0.1
            port {Port.ToString(CultureInfo.InvariantCulture)}
            dir {Directory}
            daemonize yes
            pidfile {PidFile}
            logfile {LogFile}
            save ""
            appendonly yes
            protected-mode yes

            """;
        if (Password is { } password)
        {
            config += $"requirepass {password}\n";
        }

        // The configuration holds the password: owner-only, like the password file.
        await Task.Run(() => PrivateFile.Write(Path.Combine(Directory, ConfigFileName), config), cancellationToken);
    }

    private static int? ReadPort(string directory)
    {
        var path = Path.Combine(directory, ConfigFileName);
        if (!File.Exists(path))
        {
            return null;
        }

        foreach (var line in File.ReadLines(path))
        {
            if (line.StartsWith("port ", StringComparison.Ordinal) &&
                int.TryParse(line.AsSpan(5), NumberStyles.Integer, CultureInfo.InvariantCulture, out var port))
            {
                return port;
            }
        }

        return null;
    }
}
