using System.Text.Json;
using Npgsql;
using BadHttpRequestException = Microsoft.AspNetCore.Http.BadHttpRequestException;

namespace Geo.RegionNode.Api;

/// <summary>
/// Failures below the endpoints as problem details, in one place: a moved shard is 409, bad input 400/413/422, a
/// conflicting write 409, and only a database that cannot be reached 503 with <c>Retry-After</c>. No detail names a
/// table, a constraint or an SQL error: clients get what they can act on. Input validation catches bad values before
/// the database; the SQLSTATE mapping is the safety net behind it.
/// </summary>
internal static class ApiErrors
{
    /// <summary>How long a client is asked to wait after a 503 (<c>Retry-After</c>, seconds).</summary>
    public const string RetryAfterSeconds = "2";

    public const string BodyTooLargeTitle = "Request body too large";

    public static string BodyTooLarge(long maxBodyBytes) => $"The body exceeds {maxBodyBytes} bytes; send a smaller one.";

    public static IResult ToResult(Exception? error, long maxBodyBytes) => error switch
    {
        ShardFencedException fenced => Fenced(fenced.Shard),
        StaleEpochException => Results.Problem(statusCode: 409, title: "Stale epoch", detail: "The shard moved to another region; retry through geo-router."),
        BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } => Results.Problem(statusCode: 413, title: BodyTooLargeTitle,
            detail: BodyTooLarge(maxBodyBytes)),
        BadHttpRequestException { InnerException: JsonException json } => Results.Problem(statusCode: 400, title: "Malformed JSON",
            detail: $"The body is not valid JSON for this operation{(json.Path is { Length: > 0 } path ? $" (at {path})" : "")}: check the syntax and the field types."),
        BadHttpRequestException bad => Results.Problem(statusCode: bad.StatusCode, title: "Bad request",
            detail: bad.StatusCode == 400 ? "The request could not be read: a required body, header or parameter is missing or malformed." : null),
        PostgresException postgres => FromPostgres(postgres),
        NpgsqlException or TimeoutException => Unavailable(),
        _ => Results.Problem(statusCode: 500, title: "Internal error"),
    };

    private static IResult FromPostgres(PostgresException postgres) => postgres.SqlState switch
    {
        PostgresErrorCodes.CharacterNotInRepertoire or PostgresErrorCodes.UntranslatableCharacter => Results.Problem(statusCode: 422, title: "Invalid text",
            detail: "A text value holds a character that cannot be stored (such as NUL, U+0000); remove it and retry."),
        PostgresErrorCodes.NumericValueOutOfRange => Results.Problem(statusCode: 422, title: "Number out of range",
            detail: "A number, or the result of applying it (such as a balance), is outside the range its field accepts."),
        PostgresErrorCodes.UniqueViolation => Results.Problem(statusCode: 409, title: "Already exists",
            detail: "Something with the same identity already exists; read it, or use another identifier."),
        PostgresErrorCodes.ForeignKeyViolation => Results.Problem(statusCode: 422, title: "Unknown reference",
            detail: "A value refers to something that does not exist (such as a plan id); create it first or use an existing one."),
        PostgresErrorCodes.CheckViolation or PostgresErrorCodes.NotNullViolation => Results.Problem(statusCode: 422, title: "Invalid value",
            detail: "A value is outside what its field accepts; the API documentation gives each field's range."),
        // Class 22, data exceptions: a value the database cannot take as given.
        _ when postgres.SqlState.StartsWith("22", StringComparison.Ordinal) => Results.Problem(statusCode: 422, title: "Invalid value",
            detail: "A value cannot be stored as given; check its format and range."),
        _ when postgres.IsTransient => Unavailable(),
        _ => Results.Problem(statusCode: 500, title: "Internal error"),
    };

    /// <summary>503 with <c>Retry-After</c>: this node does not hold the shard's owner lease (it may be cut off, or the shard being promoted).</summary>
    public static IResult Fenced(string shard) =>
        new RetryLater(Results.Problem(statusCode: 503, title: "Shard fenced",
            detail: $"This region does not hold the owner lease of {shard} now; nothing was written. Retry in {RetryAfterSeconds} s through geo-router."));

    private static RetryLater Unavailable() =>
        new(Results.Problem(statusCode: 503, title: "Database unavailable", detail: $"Retry in {RetryAfterSeconds} s."));

    /// <summary>A 503 with <c>Retry-After</c>.</summary>
    private sealed class RetryLater(IResult problem) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.RetryAfter = RetryAfterSeconds;
            return problem.ExecuteAsync(httpContext);
        }
    }
}
