using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace Geo.Router.Console;

/// <summary>A signed-in console user: the operator key's name, the session's CSRF token and when it ends.</summary>
internal sealed record ConsoleSession(string Id, string Operator, string CsrfToken, DateTimeOffset ExpiresAt);

/// <summary>
/// The console's sessions, in this router's memory: a random id in an HttpOnly, SameSite=Strict cookie, a CSRF token
/// per session that every change must echo in a header. A session lasts <see cref="Lifetime"/>; a router restart (or
/// another router behind the DNS name) asks to sign in again, which keeps no state to replicate or leak.
/// </summary>
internal sealed class ConsoleSessions(TimeProvider time)
{
    public const string CookieName = "geo_console";
    public const string CsrfHeader = "X-CSRF-Token";

    /// <summary>How long a session lasts from sign-in: an on-call shift.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(12);

    /// <summary>Sessions kept at most; the oldest go first (a flood of sign-ins cannot grow memory without bound).</summary>
    public const int MaxSessions = 1000;

    private readonly ConcurrentDictionary<string, ConsoleSession> _sessions = new(StringComparer.Ordinal);

    public ConsoleSession Start(string @operator)
    {
        Sweep();
        var session = new ConsoleSession(Token(), @operator, Token(), time.GetUtcNow() + Lifetime);
        _sessions[session.Id] = session;
        return session;
    }

    /// <summary>The live session of a cookie value; null when there is none or it has ended.</summary>
    public ConsoleSession? Find(string? id)
    {
        if (id is null || !_sessions.TryGetValue(id, out var session))
        {
            return null;
        }

        if (session.ExpiresAt > time.GetUtcNow())
        {
            return session;
        }

        _sessions.TryRemove(id, out _);
        return null;
    }

    public void End(string id) => _sessions.TryRemove(id, out _);

    /// <summary>Ends every session of an operator whose key was revoked.</summary>
    public void EndAll(string @operator)
    {
        foreach (var session in _sessions.Values.Where(s => s.Operator == @operator))
        {
            _sessions.TryRemove(session.Id, out _);
        }
    }

    /// <summary>Whether <paramref name="presented"/> is the session's CSRF token (constant time).</summary>
    public static bool CsrfMatches(ConsoleSession session, string? presented) =>
        presented is not null && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(session.CsrfToken), Encoding.ASCII.GetBytes(presented));

    private void Sweep()
    {
        var now = time.GetUtcNow();
        foreach (var ended in _sessions.Values.Where(s => s.ExpiresAt <= now))
        {
            _sessions.TryRemove(ended.Id, out _);
        }

        foreach (var oldest in _sessions.Values.OrderBy(s => s.ExpiresAt).Take(Math.Max(0, _sessions.Count - MaxSessions + 1)))
        {
            _sessions.TryRemove(oldest.Id, out _);
        }
    }

    private static string Token() => Base64Url(RandomNumberGenerator.GetBytes(32));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
