using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Geo.Router.IntegrationTests;

/// <summary>
/// HTTP/1.1 over a bare socket, for request targets HttpClient would rewrite (it removes dot-segments and re-encodes):
/// one request per connection, the answer read to the end. With a Transfer-Encoding header the body is sent as given
/// (already chunked).
/// </summary>
internal static class RawHttp
{
    public static async Task<RawResponse> SendAsync(Uri server, string method, string target, IEnumerable<(string Name, string Value)>? headers = null, byte[]? body = null)
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await client.ConnectAsync(server.Host, server.Port, timeout.Token);
        var stream = client.GetStream();
        var head = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"{method} {target} HTTP/1.1\r\n")
            .Append(CultureInfo.InvariantCulture, $"Host: {server.Authority}\r\n")
            .Append("Connection: close\r\n");
        foreach (var (name, value) in headers ?? [])
        {
            head.Append(CultureInfo.InvariantCulture, $"{name}: {value}\r\n");
        }

        var chunked = headers?.Any(h => h.Name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase)) == true;
        if (body is not null && !chunked)
        {
            head.Append(CultureInfo.InvariantCulture, $"Content-Length: {body.Length}\r\n");
        }

        head.Append("\r\n");
        await stream.WriteAsync(Encoding.Latin1.GetBytes(head.ToString()), timeout.Token);
        if (body is not null)
        {
            await stream.WriteAsync(body, timeout.Token);
        }

        using var answer = new MemoryStream();
        await stream.CopyToAsync(answer, timeout.Token);
        return RawResponse.Parse(answer.ToArray());
    }
}

/// <summary>A status, the headers (names lower-cased) and the body as text (chunked bodies are left as sent).</summary>
internal sealed record RawResponse(int Status, IReadOnlyDictionary<string, string> Headers, string Body)
{
    public static RawResponse Parse(byte[] bytes)
    {
        var text = Encoding.UTF8.GetString(bytes);
        var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var lines = (end < 0 ? text : text[..end]).Split("\r\n");
        var status = int.Parse(lines[0].Split(' ')[1], CultureInfo.InvariantCulture);
        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            headers[line[..colon].Trim().ToLowerInvariant()] = line[(colon + 1)..].Trim();
        }

        return new RawResponse(status, headers, end < 0 ? "" : text[(end + 4)..]);
    }
}
