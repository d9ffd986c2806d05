using System.Text;
using System.Text.Json;
using Geo.Replication.Changes;
using Geo.Replication.Kafka;

namespace Geo.Replication.Tests;

public sealed class DebeziumValuesTests
{
    private const string Placeholder = "__debezium_unavailable_value";

    [Theory]
    [InlineData("\"2024-01-02T03:04:05.123456Z\"", "timestamp with time zone", "io.debezium.time.ZonedTimestamp", "2024-01-02T03:04:05.123456Z")]
    [InlineData("1704164645123456", "timestamp without time zone", "io.debezium.time.MicroTimestamp", "2024-01-02 03:04:05.123456")]
    [InlineData("1704164645123456", "timestamp without time zone", null, "2024-01-02 03:04:05.123456")]
    [InlineData("1704164645123", "timestamp(3) without time zone", "io.debezium.time.Timestamp", "2024-01-02 03:04:05.123000")]
    [InlineData("19724", "date", "io.debezium.time.Date", "2024-01-02")]
    [InlineData("11045123456", "time without time zone", "io.debezium.time.MicroTime", "03:04:05.123456")]
    [InlineData("90000000", "interval", "io.debezium.time.MicroDuration", "90000000 microseconds")]
    [InlineData("\"12.50\"", "numeric(12,2)", null, "12.50")]
    [InlineData("12.5", "double precision", null, "12.5")]
    [InlineData("42", "bigint", null, "42")]
    [InlineData("true", "boolean", null, "true")]
    [InlineData("false", "boolean", null, "false")]
    [InlineData("\"3fa85f64-5717-4562-b3fc-2c963f66afa6\"", "uuid", "io.debezium.data.Uuid", "3fa85f64-5717-4562-b3fc-2c963f66afa6")]
    [InlineData("\"3q2+7w==\"", "bytea", null, "\\xdeadbeef")]
    [InlineData("[\"a\",null,\"b\\\"c\"]", "text[]", null, "{\"a\",NULL,\"b\\\"c\"}")]
    [InlineData("{\"scale\":2,\"value\":\"BNI=\"}", "numeric", "io.debezium.data.VariableScaleDecimal", "12.34")]
    [InlineData("{\"scale\":3,\"value\":\"/7I=\"}", "numeric", "io.debezium.data.VariableScaleDecimal", "-0.078")]
    public void Convert_DebeziumJsonValue_PostgresText(string json, string pgType, string? semantic, string expected)
    {
        var value = DebeziumValues.Convert(Parse(json), pgType, semantic, Placeholder);

        Assert.Equal(ColumnValueKind.Text, value.Kind);
        Assert.Equal(expected, value.Text);
    }

    [Fact]
    public void Convert_Null_IsNull() => Assert.Equal(ColumnValue.Null, DebeziumValues.Convert(Parse("null"), "text", null, Placeholder));

    [Fact]
    public void Convert_PlaceholderText_IsUnchanged() =>
        Assert.Equal(ColumnValue.Unchanged, DebeziumValues.Convert(Parse($"\"{Placeholder}\""), "text", null, Placeholder));

    [Fact]
    public void Convert_PlaceholderBytes_IsUnchanged()
    {
        var json = $"\"{Convert.ToBase64String(Encoding.UTF8.GetBytes(Placeholder))}\"";

        Assert.Equal(ColumnValue.Unchanged, DebeziumValues.Convert(Parse(json), "bytea", null, Placeholder));
    }

    [Fact]
    public void Convert_BytesNotBase64_Throws() =>
        Assert.Throws<ReplicationException>(() => DebeziumValues.Convert(Parse("\"not base64!\""), "bytea", null, Placeholder));

    private static JsonElement Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }
}
