using Geo.Directory;
using Geo.Directory.Operators;
using Geo.Directory.Regions;
using Geo.Directory.Shards;
using Geo.Provisioning;
using Geo.Provisioning.NasConfig;
using Geo.Provisioning.Recovery;
using Geo.Router.Hosting;

namespace Geo.Router.Console;

/// <summary>Sign-in: an operator key, never a tenant's API key.</summary>
internal sealed record ConsoleSignIn(string? Key);

/// <summary>A switchover or promotion asked for from the console: <see cref="Confirm"/> must repeat the shard's name.</summary>
internal sealed record ConsoleDrAction(string? Shard, string? To, string? Confirm);

/// <summary>
/// The operator console at <c>/console</c>: static pages shipped inside the router (no CDN, no build step) and a JSON
/// API under <c>/console/api</c> for them. Sign-in takes an operator key (bootstrap or named, as the admin API) and
/// starts a session (<see cref="ConsoleSessions"/>); every change needs the session's CSRF token and is audited like
/// an admin call. Off (404) while the admin API is.
/// </summary>
internal static class ConsoleEndpoints
{
    private const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

    private static readonly Dictionary<string, string> Assets = new(StringComparer.Ordinal)
    {
        ["index.html"] = "text/html; charset=utf-8",
        ["console.js"] = "text/javascript; charset=utf-8",
        ["console.css"] = "text/css; charset=utf-8",
    };

    public static void Map(WebApplication app)
    {
        var console = app.MapGroup("/console").AddEndpointFilter(EnabledAsync);
        console.MapGet("", () => Asset("index.html"));
        console.MapGet("/{asset}", (string asset) => Assets.ContainsKey(asset) && asset != "index.html" ? Asset(asset) : Results.NotFound());

        var api = console.MapGroup("/api");
        api.MapGet("/session", (HttpContext http, ConsoleSessions sessions) =>
            sessions.Find(http.Request.Cookies[ConsoleSessions.CookieName]) is { } session
                ? Results.Json(new { @operator = session.Operator, csrf = session.CsrfToken })
                : AdminEndpoints.Problem(StatusCodes.Status401Unauthorized, "not signed in"));
        api.MapPost("/session", SignInAsync);
        var signedIn = api.MapGroup("").AddEndpointFilter(SessionAsync);
        signedIn.MapPost("/signout", (HttpContext http, ConsoleSessions sessions) =>
        {
            sessions.End(Session(http).Id);
            http.Response.Cookies.Delete(ConsoleSessions.CookieName, CookieOptions(http));
            return Results.NoContent();
        });
        signedIn.MapGet("/overview", OverviewAsync);
        signedIn.MapPost("/switchover", (ConsoleDrAction? body, HttpContext http, DirectoryCache directory, TenantAdmin admin) =>
            RunDrActionAsync(body, http, directory, admin, promote: false)).WithMetadata(new AdminAction("dr.switchover"));
        signedIn.MapPost("/promote", (ConsoleDrAction? body, HttpContext http, DirectoryCache directory, TenantAdmin admin) =>
            RunDrActionAsync(body, http, directory, admin, promote: true)).WithMetadata(new AdminAction("dr.promote"));
        signedIn.MapGet("/promote-estimate", PromoteEstimateAsync);
        signedIn.MapGet("/nas-config", NasConfig);
    }

    /// <summary>404 while the admin API is off; the console's security headers on everything it answers.</summary>
    private static async ValueTask<object?> EnabledAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        if (!http.RequestServices.GetRequiredService<TenantAdmin>().Enabled)
        {
            return Results.NotFound();
        }

        var headers = http.Response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers.CacheControl = "no-store";
        return await next(context);
    }

    private static async Task<IResult> SignInAsync(ConsoleSignIn? body, HttpContext http, TenantAdmin admin, AdminAudit audit, ConsoleSessions sessions, CancellationToken cancellationToken)
    {
        OperatorIdentity identity;
        try
        {
            identity = body?.Key is { Length: > 0 } key ? await admin.IdentifyKeyAsync(key, cancellationToken) : default;
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException)
        {
            return AdminEndpoints.Problem(StatusCodes.Status502BadGateway, "the directory database (operator keys) cannot be reached");
        }

        var call = new AdminCall(identity.Name ?? OperatorKeys.Unknown, "console.signin", AdminCall.SourceOf(http), null);
        if (!identity.Authorized)
        {
            var reason = identity.Revoked ? "operator key revoked" : body?.Key is { Length: > 0 } ? "not an operator key" : "no operator key";
            await audit.WriteAsync(call.Record(AuditResults.Refused, reason));
            return AdminEndpoints.Problem(StatusCodes.Status401Unauthorized, $"{reason}: sign in with an operator key (a tenant's API key does not open the console)");
        }

        var session = sessions.Start(identity.Name!);
        http.Response.Cookies.Append(ConsoleSessions.CookieName, session.Id, CookieOptions(http, session.ExpiresAt));
        await audit.WriteAsync(call.Record(AuditResults.Ok, null));
        return Results.Json(new { @operator = session.Operator, csrf = session.CsrfToken });
    }

    /// <summary>
    /// Lets a live session through (401 otherwise), and a change only with its CSRF token (403 otherwise, audited). The
    /// operator's key is looked up on every call: a key revoked a moment ago ends its sessions at the next request.
    /// </summary>
    private static async ValueTask<object?> SessionAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var sessions = http.RequestServices.GetRequiredService<ConsoleSessions>();
        var admin = http.RequestServices.GetRequiredService<TenantAdmin>();
        var audit = http.RequestServices.GetRequiredService<AdminAudit>();
        if (sessions.Find(http.Request.Cookies[ConsoleSessions.CookieName]) is not { } session)
        {
            return AdminEndpoints.Problem(StatusCodes.Status401Unauthorized, "not signed in, or the session ended: sign in again");
        }

        try
        {
            if (!await admin.IsWorkingAsync(session.Operator, http.RequestAborted))
            {
                sessions.EndAll(session.Operator);
                return AdminEndpoints.Problem(StatusCodes.Status401Unauthorized, "the operator key of this session was revoked");
            }
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException)
        {
            return AdminEndpoints.Problem(StatusCodes.Status502BadGateway, "the directory database (operator keys) cannot be reached");
        }

        var action = http.GetEndpoint()?.Metadata.GetMetadata<AdminAction>();
        var call = new AdminCall(session.Operator, action?.Name ?? "console.read", AdminCall.SourceOf(http), null);
        if (!HttpMethods.IsGet(http.Request.Method) && !ConsoleSessions.CsrfMatches(session, http.Request.Headers[ConsoleSessions.CsrfHeader]))
        {
            await audit.WriteAsync(call.Record(AuditResults.Refused, "missing or wrong CSRF token"));
            return AdminEndpoints.Problem(StatusCodes.Status403Forbidden, $"missing or wrong CSRF token ({ConsoleSessions.CsrfHeader})");
        }

        http.Items[typeof(ConsoleSession)] = session;
        http.Items[typeof(AdminCall)] = call;
        var result = await next(context);
        if (action is { Audited: true })
        {
            await audit.WriteAsync(call.Record(result));
        }

        return result;
    }

    private static async Task<IResult> OverviewAsync(DirectoryCache directory, RegionHealthMonitor health, TenantAdmin admin, ShardSampler sampler, TimeProvider time, CancellationToken cancellationToken)
    {
        sampler.Look();
        var samples = sampler.Samples;
        var snapshot = directory.Current;
        OwnerLeaseView leases;
        IReadOnlyList<Geo.Directory.Recovery.DrEvent> events;
        try
        {
            leases = await admin.Store.LoadOwnerLeasesAsync(cancellationToken);
            events = await admin.Store.ListDrEventsAsync(null, 50, cancellationToken);
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or DirectoryStoreException or TimeoutException)
        {
            return AdminEndpoints.Problem(StatusCodes.Status502BadGateway, "the directory database cannot be reached");
        }

        var regions = snapshot.Regions.OrderBy(r => r.Id, StringComparer.Ordinal).Select(r => (Region: r, Health: health.HealthOf(r.Id))).Select(x => new
        {
            id = x.Region.Id,
            name = x.Region.DisplayName,
            health = x.Health.ToString().ToLowerInvariant(),
            healthy = x.Health == RegionHealth.Healthy,
            apiUrl = x.Region.ApiUrl.ToString(),
            radiusHost = x.Region.RadiusHost,
            authPort = x.Region.RadiusAuthPort,
            acctPort = x.Region.RadiusAcctPort,
        }).ToList();
        var leaseOf = leases.Leases.ToDictionary(l => l.Key);
        var shards = snapshot.Shards.OrderBy(s => s.Key.ToString(), StringComparer.Ordinal).Select(s => new
        {
            shard = s.Key.ToString(),
            tenant = s.Key.TenantId,
            home = s.Key.HomeRegion,
            owner = s.OwnerRegion,
            standby = s.StandbyRegion,
            epoch = s.Epoch,
            state = ShardStates.ToText(s.State),
            lease = leaseOf.TryGetValue(s.Key, out var lease)
                ? new { holder = lease.Holder, remainingSeconds = Math.Round((lease.ExpiresAt - leases.DirectoryNow).TotalSeconds, 1) }
                : null,
            subscribers = samples.GetValueOrDefault(s.Key.ToString())?.Subscribers,
            replication = s.StandbyRegion is not null && samples.GetValueOrDefault(s.Key.ToString()) is { } sample
                ? new
                {
                    streaming = sample.Streaming,
                    lagSeconds = sample.LagSeconds is { } seconds ? Math.Round(seconds, 1) : (double?)null,
                    lagBytes = sample.LagBytes,
                    error = sample.Error,
                    history = sample.LagHistory.Select(h => h is { } v ? Math.Round(v, 1) : (double?)null),
                    intervalSeconds = ShardSampler.Interval.TotalSeconds,
                }
                : null,
        }).ToList();
        var alerts = regions.Where(r => r.health == "down").Select(r => new { severity = "critical", text = $"region {r.id} is down" })
            .Concat(shards.Where(s => s.state == "active" && s.standby is null).Select(s => new { severity = "warning", text = $"{s.shard} has no standby" }))
            .Concat(shards.Where(s => s.state == "active" && s.lease is { remainingSeconds: <= 0 })
                .Select(s => new { severity = "critical", text = $"{s.shard}: the owner lease of region {s.owner} expired {-s.lease!.remainingSeconds:0.#} s ago" }))
            .Concat(shards.Where(s => s.state is not ("active" or "retired")).Select(s => new { severity = "warning", text = $"{s.shard} is {s.state}" }))
            .Concat(shards.Where(s => s.state == "active" && s.replication is { streaming: false })
                .Select(s => new { severity = "critical", text = $"{s.shard}: no stream to its standby {s.standby}" }))
            .Concat(shards.Where(s => s.replication is { lagSeconds: > LagWarningSeconds })
                .Select(s => new { severity = s.replication!.lagSeconds > LagCriticalSeconds ? "critical" : "warning", text = $"{s.shard}: standby {s.standby} is {s.replication.lagSeconds:0.#} s behind" }))
            .ToList();
        return Results.Json(new
        {
            generatedAt = time.GetUtcNow(),
            regions,
            shards,
            alerts,
            nas = snapshot.Data.NasDevices.OrderBy(n => n.TenantId, StringComparer.Ordinal).ThenBy(n => n.Id, StringComparer.Ordinal)
                .Select(n => new { tenant = n.TenantId, id = n.Id, address = n.Address.ToString(), primary = n.PrimaryRegion, backup = n.BackupRegion }),
            events = events.Reverse().Select(e => new
            {
                id = e.Id,
                at = e.At,
                shard = e.Shard.ToString(),
                operation = e.Operation,
                step = e.Step,
                outcome = e.Outcome,
                detail = e.Detail,
                @operator = e.Operator,
                elapsedMs = e.ElapsedMs,
            }),
        });
    }

    /// <summary>What promoting a shard now would lose (GET, nothing changed): shown in the promote dialog before the operator confirms.</summary>
    private static async Task<IResult> PromoteEstimateAsync(string? shard, DirectoryCache directory, TenantAdmin admin, CancellationToken cancellationToken)
    {
        if (!ShardKey.TryParse(shard, out var key) || !directory.Current.TryGetShard(key, out var found) || found.StandbyRegion is null)
        {
            return AdminEndpoints.Problem(StatusCodes.Status404NotFound, $"no shard {shard} with a standby");
        }

        try
        {
            var (estimate, text) = await admin.PromotionEstimateAsync(found, cancellationToken);
            return Results.Json(new { shard = key.ToString(), from = found.OwnerRegion, to = found.StandbyRegion, known = estimate.Known, seconds = estimate.Seconds, transactions = estimate.Transactions, estimate = text });
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException or KeyNotFoundException)
        {
            return AdminEndpoints.Problem(StatusCodes.Status502BadGateway, $"region {found.StandbyRegion}'s replica of {key} cannot be read: {ex.Message}");
        }
    }

    /// <summary>A switchover (nothing lost) or a promotion (the owner region lost) of a shard to its standby, confirmed by its name typed.</summary>
    private static async Task<IResult> RunDrActionAsync(ConsoleDrAction? body, HttpContext http, DirectoryCache directory, TenantAdmin admin, bool promote)
    {
        var name = promote ? "promotion" : "switchover";
        var call = AdminCall.Of(http);
        call.Detail = new { shard = body?.Shard, to = body?.To };
        if (!ShardKey.TryParse(body?.Shard, out var key) || body!.Confirm != body.Shard)
        {
            return AdminEndpoints.Problem(StatusCodes.Status400BadRequest, "give shard (tenant@home), to (the standby region) and confirm (the shard's name again)");
        }

        call.Tenant = key.TenantId;
        if (!directory.Current.TryGetShard(key, out var shard))
        {
            return AdminEndpoints.Problem(StatusCodes.Status404NotFound, $"no shard {key}");
        }

        if (shard.StandbyRegion is not { } standby || body.To != standby)
        {
            return AdminEndpoints.Problem(StatusCodes.Status409Conflict, $"{key} can move only to its standby ({shard.StandbyRegion ?? "none"})");
        }

        var progress = new CollectedProgress();
        var @operator = $"{Session(http).Operator} (console)";
        try
        {
            // Not the request's token: a DR action the browser stops waiting for still finishes (or stops at a resumable step).
            var outcome = promote
                ? await admin.Promotion(progress).RunAsync(new PromotionRequest(key, standby, Force: false, @operator), CancellationToken.None)
                : await admin.Switchover(progress).RunAsync(new SwitchoverRequest(key, standby, @operator, TimeSpan.FromSeconds(5)), CancellationToken.None);
            return outcome == PromotionOutcome.Done
                ? Results.Json(new { outcome = "done", steps = progress.Lines })
                : AdminEndpoints.Problem(outcome == PromotionOutcome.Refused ? StatusCodes.Status409Conflict : StatusCodes.Status502BadGateway,
                    $"{name} {outcome.ToString().ToLowerInvariant()}: see the steps and the DR log; running it again resumes", progress.Lines);
        }
        catch (Exception ex) when (ex is ProvisioningException or Npgsql.NpgsqlException or DirectoryStoreException or TimeoutException)
        {
            return AdminEndpoints.Problem(ex is ProvisioningException ? StatusCodes.Status409Conflict : StatusCodes.Status502BadGateway, ex.Message, progress.Lines);
        }
    }

    /// <summary>
    /// A NAS's RADIUS client configuration as <c>geoctl nas-config</c> writes it (home region first, backup second), as a
    /// download. With a placeholder for the shared secret: the console never shows a NAS's secret.
    /// </summary>
    private static IResult NasConfig(string? tenant, string? nas, string? format, DirectoryCache directory)
    {
        var snapshot = directory.Current;
        if (!NasConfigGenerator.TryParseFormat(format ?? "", out var dialect))
        {
            return AdminEndpoints.Problem(StatusCodes.Status400BadRequest, "format must be mikrotik, cisco, juniper or freeradius");
        }

        if (tenant is null || nas is null || !snapshot.TryGetNas(tenant, nas, out var device) || !snapshot.TryGetRegion(device.PrimaryRegion, out var primary))
        {
            return AdminEndpoints.Problem(StatusCodes.Status404NotFound, $"no NAS {nas} of tenant {tenant}");
        }

        var backup = device.BackupRegion is { } b && snapshot.TryGetRegion(b, out var region) ? Endpoint(region) : null;
        var client = new NasClient(device.TenantId, device.Id, device.Address.ToString(), Endpoint(primary), backup, NasConfigGenerator.SecretPlaceholder);
        var text = NasConfigGenerator.Generate(client, dialect) +
            $"{NasConfigGenerator.CommentPrefix(dialect)} Replace {NasConfigGenerator.SecretPlaceholder} with the NAS's shared secret (geoctl nas-config --show-secret, or your secret store).\n";
        return Results.File(System.Text.Encoding.UTF8.GetBytes(text), "text/plain; charset=utf-8", $"{device.Id}-{dialect.ToString().ToLowerInvariant()}.txt");

        static RadiusEndpoint Endpoint(Geo.Directory.Regions.Region r) => new(r.Id, r.RadiusHost, r.RadiusAuthPort, r.RadiusAcctPort);
    }

    private const double LagWarningSeconds = 5;
    private const double LagCriticalSeconds = 60;

    private static ConsoleSession Session(HttpContext http) => (ConsoleSession)http.Items[typeof(ConsoleSession)]!;

    private static CookieOptions CookieOptions(HttpContext http, DateTimeOffset? expires = null) => new()
    {
        HttpOnly = true,
        SameSite = SameSiteMode.Strict,
        Secure = http.Request.IsHttps,
        Path = "/console",
        Expires = expires,
    };

    private static IResult Asset(string name)
    {
        var stream = typeof(ConsoleEndpoints).Assembly.GetManifestResourceStream($"console/{name}");
        return stream is null ? Results.NotFound() : Results.Stream(stream, Assets[name]);
    }
}
