using System.Globalization;
using System.Net;
using Geo.Engines;

namespace Geo.Testing;

/// <summary>The real RADIUS client of FreeRADIUS (freeradius-utils), as end-to-end tests use it.</summary>
public static class Radclient
{
    /// <summary>
    /// Sends one request (<paramref name="command"/>: auth, acct or status) with the attributes given one per line
    /// (FreeRADIUS syntax), waiting <paramref name="timeoutSeconds"/> for an answer, <paramref name="tries"/> times in all
    /// (radclient retransmits the same packet, as a NAS does). Returns
    /// radclient's exit code and everything it printed (-x: the packets sent and received).
    /// </summary>
    public static async Task<(int ExitCode, string Output)> SendAsync(IPEndPoint server, string command, string secret, string attributes, double timeoutSeconds = 2, int tries = 1)
    {
        var input = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(input, attributes.ReplaceLineEndings("\n"));
            var result = await ProcessRunner.RunAsync("radclient",
            [
                "-x", "-r", tries.ToString(CultureInfo.InvariantCulture), "-t", timeoutSeconds.ToString(CultureInfo.InvariantCulture), "-f", input, server.ToString(), command, secret,
            ]);
            return (result.ExitCode, result.Output);
        }
        finally
        {
            File.Delete(input);
        }
    }
}
