using System.Data;
using Dapper;

namespace Geo.RegionNode.Api;

/// <summary>
/// How Dapper maps the API's query results to its response records: by column, aliased to the record's parameter names
/// in order, and <c>timestamptz</c> (read by Npgsql as a UTC <see cref="DateTime"/>) to <see cref="DateTimeOffset"/>.
/// </summary>
internal static class SqlMapping
{
    private static int _registered;

    public static void Register()
    {
        if (Interlocked.Exchange(ref _registered, 1) == 0)
        {
            SqlMapper.AddTypeHandler(new UtcTimestampHandler());
        }
    }

    private sealed class UtcTimestampHandler : SqlMapper.TypeHandler<DateTimeOffset>
    {
        public override DateTimeOffset Parse(object value) =>
            value is DateTime utc ? new DateTimeOffset(DateTime.SpecifyKind(utc, DateTimeKind.Utc)) : (DateTimeOffset)value;

        public override void SetValue(IDbDataParameter parameter, DateTimeOffset value) => parameter.Value = value;
    }
}
