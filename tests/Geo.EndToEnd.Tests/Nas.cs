using System.Net;
using Geo.Testing;

namespace Geo.EndToEnd.Tests;

/// <summary>One NAS request through radclient, as a NAS sends it (1 s timeout, 3 tries), and what came of it.</summary>
internal static class Nas
{
    /// <summary>"accept", "reject" or "silent".</summary>
    public static async Task<string> LoginAsync(IPEndPoint server, string user, string password, string secret, string nasAddress)
    {
        var result = await Radclient.SendAsync(server, "auth", secret,
            $"User-Name = \"{user}\"\nUser-Password = \"{password}\"\nMessage-Authenticator = 0x00\nPacket-Src-IP-Address = {nasAddress}", timeoutSeconds: 1, tries: 3);
        return result.Output.Contains("Received Access-Accept", StringComparison.Ordinal) ? "accept"
            : result.Output.Contains("Received Access-Reject", StringComparison.Ordinal) ? "reject" : "silent";
    }

    /// <summary>"ok" (an Accounting-Response) or "silent"; <paramref name="attributes"/> are more lines, each ending in a newline.</summary>
    public static async Task<string> AccountAsync(IPEndPoint server, string user, string session, string status, string secret, string nasAddress, string attributes = "")
    {
        var result = await Radclient.SendAsync(server, "acct", secret,
            $"User-Name = \"{user}\"\nAcct-Status-Type = {status}\nAcct-Session-Id = \"{session}\"\n{attributes}Packet-Src-IP-Address = {nasAddress}", timeoutSeconds: 1, tries: 3);
        return result.Output.Contains("Received Accounting-Response", StringComparison.Ordinal) ? "ok" : "silent";
    }

    /// <summary>The NAS restarted: an Accounting-On (or <c>Accounting-Off</c>); "ok" or "silent".</summary>
    public static async Task<string> RestartedAsync(IPEndPoint server, string secret, string nasAddress, string status = "Accounting-On")
    {
        var result = await Radclient.SendAsync(server, "acct", secret,
            $"Acct-Status-Type = {status}\nAcct-Session-Id = \"0\"\nPacket-Src-IP-Address = {nasAddress}", timeoutSeconds: 1, tries: 3);
        return result.Output.Contains("Received Accounting-Response", StringComparison.Ordinal) ? "ok" : "silent";
    }
}
