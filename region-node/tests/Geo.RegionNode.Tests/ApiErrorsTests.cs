using System.Net.Sockets;
using System.Text.Json;
using Geo.RegionNode.Api;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using BadHttpRequestException = Microsoft.AspNetCore.Http.BadHttpRequestException;

namespace Geo.RegionNode.Tests;

public sealed class ApiErrorsTests
{
    private const string Internals = "new row for relation \"plans\" violates check constraint \"plans_download_kbps_check\"";

    [Theory]
    [InlineData(PostgresErrorCodes.CharacterNotInRepertoire, 422)]
    [InlineData(PostgresErrorCodes.UntranslatableCharacter, 422)]
    [InlineData(PostgresErrorCodes.NumericValueOutOfRange, 422)]
    [InlineData(PostgresErrorCodes.InvalidDatetimeFormat, 422)]
    [InlineData(PostgresErrorCodes.UniqueViolation, 409)]
    [InlineData(PostgresErrorCodes.ForeignKeyViolation, 422)]
    [InlineData(PostgresErrorCodes.CheckViolation, 422)]
    [InlineData(PostgresErrorCodes.AdminShutdown, 503)]
    [InlineData(PostgresErrorCodes.SyntaxError, 500)]
    public async Task ToResult_PostgresError_StatusBySqlStateAndNoDatabaseWords(string sqlState, int status)
    {
        var (code, body, _) = await ExecuteAsync(new PostgresException(Internals, "ERROR", "ERROR", sqlState));

        Assert.Equal(status, code);
        Assert.DoesNotContain("plans_download_kbps_check", body, StringComparison.Ordinal);
        Assert.DoesNotContain("relation", body, StringComparison.Ordinal);
        Assert.Equal(status, JsonDocument.Parse(body).RootElement.GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task ToResult_ConnectionRefused_503WithRetryAfter()
    {
        var (code, _, headers) = await ExecuteAsync(new NpgsqlException("Failed to connect", new SocketException((int)SocketError.ConnectionRefused)));

        Assert.Equal(503, code);
        Assert.Equal(ApiErrors.RetryAfterSeconds, headers.RetryAfter.ToString());
    }

    [Fact]
    public async Task ToResult_BodyTooLarge_413SayingTheLimit()
    {
        var (code, body, headers) = await ExecuteAsync(new BadHttpRequestException("Request body too large.", StatusCodes.Status413PayloadTooLarge));

        Assert.Equal(413, code);
        Assert.Contains("1048576 bytes", body, StringComparison.Ordinal);
        Assert.False(headers.ContainsKey("Retry-After"));
    }

    [Fact]
    public async Task ToResult_MalformedJson_400NamingThePath()
    {
        var json = Assert.ThrowsAny<JsonException>(() => JsonSerializer.Deserialize<MoneyRequest>("{\"amountMicros\": \"x\"}", JsonSerializerOptions.Web));

        var (code, body, _) = await ExecuteAsync(new BadHttpRequestException("Failed to read parameter \"MoneyRequest body\" from the request body as JSON.", 400, json));

        Assert.Equal(400, code);
        Assert.Contains("$.amountMicros", body, StringComparison.Ordinal);
        Assert.DoesNotContain("MoneyRequest", body, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("plain", true)]
    [InlineData("emoji \U0001F600", true)]
    [InlineData("nul\0inside", false)]
    [InlineData("{high} lone high", false)]
    [InlineData("lone high at end {high}", false)]
    [InlineData("{low} lone low", false)]
    public void IsStorableText_NulAndLoneSurrogates_Refused(string value, bool storable) =>
        // Lone surrogates written as placeholders: the test runner does not carry them through its case names intact.
        Assert.Equal(storable, Validation.IsStorableText(value.Replace("{high}", "\ud800", StringComparison.Ordinal).Replace("{low}", "\udc00", StringComparison.Ordinal)));

    private static async Task<(int Status, string Body, IHeaderDictionary Headers)> ExecuteAsync(Exception error)
    {
        var services = new ServiceCollection().AddLogging().AddProblemDetails().BuildServiceProvider();
        var http = new DefaultHttpContext { RequestServices = services };
        using var body = new MemoryStream();
        http.Response.Body = body;

        await ApiErrors.ToResult(error, 1024 * 1024).ExecuteAsync(http);

        return (http.Response.StatusCode, System.Text.Encoding.UTF8.GetString(body.ToArray()), http.Response.Headers);
    }
}
