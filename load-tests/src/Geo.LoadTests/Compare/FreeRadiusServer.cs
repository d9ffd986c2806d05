using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using Geo.Engines;
using Geo.LoadTests.Radius;

namespace Geo.LoadTests.Compare;

/// <summary>
/// A private FreeRADIUS 3.2 for one benchmark run: a minimal raddb of its own (PAP from radcheck's Cleartext-Password,
/// accounting into radacct, both through rlm_sql on a private PostgreSQL), free loopback UDP ports, a generated secret
/// for every NAS on 127.0.0.0/8, run in the foreground as a child process. A <see cref="Reaper"/> kills it however this
/// process ends.
/// </summary>
internal sealed class FreeRadiusServer : IAsyncDisposable
{
    /// <summary>Worker threads at most (the packaged default is 32).</summary>
    public const int MaxThreads = 64;

    /// <summary>rlm_sql's PostgreSQL connections: opened at start, kept at least, at most (one per thread).</summary>
    public const int PoolStart = 16;

    public const int PoolMin = 16;

    public const int PoolMax = MaxThreads;

    private const string SecretAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

    private readonly Process _process;
    private readonly Reaper _reaper;

    private FreeRadiusServer(Process process, Reaper reaper, int authPort, int acctPort, byte[] secret, string logFile)
    {
        _process = process;
        _reaper = reaper;
        AuthPort = authPort;
        AcctPort = acctPort;
        Secret = secret;
        LogFile = logFile;
    }

    public int AuthPort { get; }

    public int AcctPort { get; }

    /// <summary>The shared secret of every NAS on 127.0.0.0/8.</summary>
    public byte[] Secret { get; }

    /// <summary>What the server printed (it logs to stdout: <c>-l stdout</c>).</summary>
    public string LogFile { get; }

    /// <summary>
    /// Writes the raddb under <paramref name="directory"/>, starts the server and waits until it accepts
    /// <paramref name="probe"/> (a subscriber in its database) from <paramref name="nas"/>.
    /// </summary>
    public static async Task<FreeRadiusServer> StartAsync(FreeRadiusPackages packages, string directory, int databasePort,
        (string Username, string Password) probe, IPAddress nas, CancellationToken cancellationToken)
    {
        var authPort = LoopbackPorts.FreeUdpPort();
        var acctPort = LoopbackPorts.FreeUdpPort();
        while (acctPort == authPort)
        {
            acctPort = LoopbackPorts.FreeUdpPort();
        }

        var secret = RandomNumberGenerator.GetString(SecretAlphabet, 24);
        var raddb = Path.Combine(directory, "raddb");
        await WriteConfigAsync(raddb, directory, authPort, acctPort, secret, databasePort, cancellationToken);

        var logFile = Path.Combine(directory, "freeradius.log");
        // -f: foreground, a child of this process; not -X, which also makes the server single-threaded.
        var info = new ProcessStartInfo("sh") { UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add($"exec {Shell.Quote(packages.Binary)} -f -d {Shell.Quote(raddb)} -l stdout </dev/null >{Shell.Quote(logFile)} 2>&1");
        var process = Process.Start(info) ?? throw new EngineException($"cannot start {packages.Binary}");
        var reaper = Reaper.Start($"kill -KILL {process.Id.ToString(CultureInfo.InvariantCulture)} 2>/dev/null");
        var server = new FreeRadiusServer(process, reaper, authPort, acctPort, System.Text.Encoding.UTF8.GetBytes(secret), logFile);
        try
        {
            await server.WaitUntilAcceptingAsync(probe, nas, TimeSpan.FromSeconds(30), cancellationToken);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>The last lines the server printed.</summary>
    public string TailOfLog(int lines = 25)
    {
        try
        {
            var all = File.ReadAllLines(LogFile);
            return string.Join(Environment.NewLine, all.Skip(Math.Max(0, all.Length - lines)));
        }
        catch (IOException)
        {
            return "(no log)";
        }
    }

    public async ValueTask DisposeAsync()
    {
        // The reaper's script is the one way this server is stopped, at the end as after a crash of this process.
        _reaper.Dispose();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await _process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill();
        }

        _process.Dispose();
    }

    private async Task WaitUntilAcceptingAsync((string Username, string Password) probe, IPAddress nas, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var target = new RadiusBenchmark.Target(AuthPort, AcctPort, 0, nas, Secret, [probe]);
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            if (_process.HasExited)
            {
                throw new EngineException(
                    $"FreeRADIUS exited with {_process.ExitCode} while starting. Last lines of {LogFile}:{Environment.NewLine}{TailOfLog()}");
            }

            if ((await target.WithClassesAsync(new IPEndPoint(IPAddress.Loopback, AuthPort), TextWriter.Null)).Credentials.Count == 1)
            {
                return;
            }

            await Task.Delay(200, cancellationToken);
        }

        throw new EngineException(
            $"FreeRADIUS did not accept a subscriber of its database within {timeout.TotalSeconds:F0} s. Last lines of {LogFile}:{Environment.NewLine}{TailOfLog()}");
    }

    private static async Task WriteConfigAsync(string raddb, string directory, int authPort, int acctPort, string secret, int databasePort, CancellationToken cancellationToken)
    {
        // The raddb holds the secret: readable by root alone (FreeRADIUS runs as root here, and refuses a world-writable one).
        System.IO.Directory.CreateDirectory(raddb, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        System.IO.Directory.CreateDirectory(Path.Combine(raddb, "mods-enabled"));
        System.IO.Directory.CreateDirectory(Path.Combine(raddb, "sites-enabled"));
        System.IO.Directory.CreateDirectory(Path.Combine(directory, "log"));
        System.IO.Directory.CreateDirectory(Path.Combine(directory, "run"));

        // The packaged radiusd.conf with the paths moved into this folder, no user switch, no proxying, no reject delay.
        // max_requests counts the requests kept for duplicate detection (cleanup_delay, 5 s): far above a run's rate x 5 s.
        await File.WriteAllTextAsync(Path.Combine(raddb, "radiusd.conf"), $$"""
            # Written by geo-load compare freeradius: a private instance for one benchmark run.
            prefix = /usr
            exec_prefix = /usr
            sysconfdir = /etc
            localstatedir = {{directory}}
            sbindir = ${exec_prefix}/sbin
            logdir = {{directory}}/log
            raddbdir = {{raddb}}
            radacctdir = ${logdir}/radacct
            name = freeradius
            confdir = ${raddbdir}
            modconfdir = {{FreeRadiusPackages.PackagedConfig}}/mods-config
            run_dir = {{directory}}/run
            db_dir = ${raddbdir}
            libdir = {{FreeRadiusPackages.ModuleDirectory}}
            pidfile = ${run_dir}/${name}.pid
            correct_escapes = true
            max_request_time = 30
            cleanup_delay = 5
            max_requests = 1048576
            hostname_lookups = no

            log {
                auth = no
                auth_badpass = no
                auth_goodpass = no
            }

            security {
                allow_core_dumps = no
                max_attributes = 200
                reject_delay = 0
                status_server = no
            }

            proxy_requests = no
            $INCLUDE clients.conf

            # Every thread from the start: no measured run waits for the pool to spawn more.
            thread pool {
                start_servers = {{MaxThreads}}
                max_servers = {{MaxThreads}}
                min_spare_servers = 3
                max_spare_servers = {{MaxThreads}}
                max_requests_per_server = 0
                max_queue_size = 65536
                auto_limit_acct = no
            }

            modules {
                $INCLUDE mods-enabled/
            }

            instantiate {
            }

            policy {
                # acct_unique: Acct-Unique-Session-Id, which the sql module's accounting queries key radacct rows by.
                $INCLUDE {{FreeRadiusPackages.PackagedConfig}}/policy.d/accounting
            }

            $INCLUDE sites-enabled/

            """, cancellationToken);

        await File.WriteAllTextAsync(Path.Combine(raddb, "clients.conf"), $$"""
            # The load generator binds its NAS addresses in 127.0.0.0/8.
            client loopback {
                ipaddr = 127.0.0.0/8
                secret = "{{secret}}"
                nas_type = other
            }

            """, cancellationToken);

        await File.WriteAllTextAsync(Path.Combine(raddb, "mods-enabled", "pap"), """
            pap {
            }

            """, cancellationToken);

        // %{tolower:...} and %{md5:...}, which the packaged accounting queries and acct_unique policy use.
        await File.WriteAllTextAsync(Path.Combine(raddb, "mods-enabled", "expr"), """
            expr {
            }

            """, cancellationToken);

        // The "ok" of the accounting section (as in the packaged mods-available/always).
        await File.WriteAllTextAsync(Path.Combine(raddb, "mods-enabled", "always"), """
            always ok {
                rcode = ok
            }

            """, cancellationToken);

        // The packaged sql module's settings and queries, on the private PostgreSQL. At most one connection per thread, as the
        // packaged module has it (max = max_servers); at least 16 open, ready for the first run.
        await File.WriteAllTextAsync(Path.Combine(raddb, "mods-enabled", "sql"), $$"""
            sql {
                dialect = "postgresql"
                driver = "rlm_sql_postgresql"
                server = "127.0.0.1"
                port = {{databasePort}}
                login = "postgres"
                password = ""
                radius_db = "{{FreeRadiusDatabase.Name}}"
                postgresql {
                    send_application_name = yes
                }
                acct_table1 = "radacct"
                acct_table2 = "radacct"
                postauth_table = "radpostauth"
                authcheck_table = "radcheck"
                groupcheck_table = "radgroupcheck"
                authreply_table = "radreply"
                groupreply_table = "radgroupreply"
                usergroup_table = "radusergroup"
                delete_stale_sessions = yes
                client_table = "nas"
                group_attribute = "SQL-Group"
                pool {
                    start = {{PoolStart}}
                    min = {{PoolMin}}
                    max = {{PoolMax}}
                    spare = {{PoolMax - PoolMin}}
                    uses = 0
                    retry_delay = 30
                    lifetime = 0
                    idle_timeout = 60
                }
                $INCLUDE ${modconfdir}/${.:name}/main/${dialect}/queries.conf
            }

            """, cancellationToken);

        await File.WriteAllTextAsync(Path.Combine(raddb, "sites-enabled", "default"), $$"""
            # PAP against radcheck's Cleartext-Password; accounting into radacct with the packaged queries.
            server default {
                listen {
                    type = auth
                    ipaddr = 127.0.0.1
                    port = {{authPort}}
                }

                listen {
                    type = acct
                    ipaddr = 127.0.0.1
                    port = {{acctPort}}
                }

                authorize {
                    sql
                    pap
                }

                authenticate {
                    Auth-Type PAP {
                        pap
                    }
                }

                preacct {
                    acct_unique
                }

                accounting {
                    sql
                    # An Accounting-On that closes no session updates no row: sql answers noop, and a section ending in noop
                    # sends no Accounting-Response (in the packaged site, detail and unix answer ok after it).
                    if (noop) {
                        ok
                    }
                }
            }

            """, cancellationToken);
    }
}
