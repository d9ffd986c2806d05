using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;
using Geo.Replication.Changes;

namespace Geo.Replication.Kafka;

/// <summary>
/// Turns Debezium JSON values back into PostgreSQL text by the replica column's type, for the settings <c>DebeziumConnectorConfig</c>
/// generates: <c>decimal.handling.mode=string</c> (or double), <c>binary.handling.mode=base64</c>,
/// <c>time.precision.mode=adaptive_time_microseconds</c>, <c>interval.handling.mode=string</c>.
/// </summary>
internal static class DebeziumValues
{
    private static readonly DateTime Epoch = new(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    public static ColumnValue Convert(JsonElement value, string pgType, string? semantic, string placeholder)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Null:
            case JsonValueKind.Undefined:
                return ColumnValue.Null;

            case JsonValueKind.True:
                return ColumnValue.Of("true");

            case JsonValueKind.False:
                return ColumnValue.Of("false");

            case JsonValueKind.String:
            {
                var text = value.GetString()!;
                if (string.Equals(text, placeholder, StringComparison.Ordinal))
                {
                    return ColumnValue.Unchanged;
                }

                if (string.Equals(pgType, "bytea", StringComparison.Ordinal))
                {
                    var bytes = Convert64(text, pgType);
                    return bytes.AsSpan().SequenceEqual(Encoding.UTF8.GetBytes(placeholder))
                        ? ColumnValue.Unchanged
                        : ColumnValue.Of(@"\x" + System.Convert.ToHexStringLower(bytes));
                }

                return ColumnValue.Of(text);
            }

            case JsonValueKind.Number:
                return ColumnValue.Of(FromNumber(value, pgType, semantic));

            case JsonValueKind.Array:
                return ColumnValue.Of(ArrayLiteral(value, pgType, semantic, placeholder));

            case JsonValueKind.Object when string.Equals(semantic, "io.debezium.data.VariableScaleDecimal", StringComparison.Ordinal) ||
                                          (value.TryGetProperty("scale", out _) && value.TryGetProperty("value", out _)):
                return ColumnValue.Of(VariableScaleDecimal(value));

            default:
                throw new ReplicationException($"cannot map a Debezium {value.ValueKind} value onto PostgreSQL type {pgType}");
        }
    }

    private static byte[] Convert64(string text, string pgType)
    {
        try
        {
            return System.Convert.FromBase64String(text);
        }
        catch (FormatException ex)
        {
            throw new ReplicationException($"a {pgType} value is not base64 (set binary.handling.mode=base64 on the connector)", ex);
        }
    }

    private static string FromNumber(JsonElement value, string pgType, string? semantic)
    {
        if (pgType.StartsWith("timestamp", StringComparison.Ordinal))
        {
            var ticks = semantic switch
            {
                "io.debezium.time.Timestamp" or "org.apache.kafka.connect.data.Timestamp" => value.GetInt64() * TimeSpan.TicksPerMillisecond,
                "io.debezium.time.NanoTimestamp" => value.GetInt64() / 100,
                _ => value.GetInt64() * 10, // io.debezium.time.MicroTimestamp, the default for timestamp(6)
            };
            var time = Epoch.AddTicks(ticks).ToString("yyyy-MM-dd HH:mm:ss.ffffff", CultureInfo.InvariantCulture);
            return pgType.Contains("with time zone", StringComparison.Ordinal) ? time + "+00" : time;
        }

        if (string.Equals(pgType, "date", StringComparison.Ordinal))
        {
            return DateOnly.FromDateTime(Epoch.AddDays(value.GetInt32())).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        }

        if (pgType.StartsWith("time", StringComparison.Ordinal))
        {
            var ticks = semantic switch
            {
                "io.debezium.time.Time" or "org.apache.kafka.connect.data.Time" => value.GetInt64() * TimeSpan.TicksPerMillisecond,
                "io.debezium.time.NanoTime" => value.GetInt64() / 100,
                _ => value.GetInt64() * 10, // io.debezium.time.MicroTime
            };
            return new TimeSpan(ticks).ToString(@"hh\:mm\:ss\.ffffff", CultureInfo.InvariantCulture);
        }

        if (string.Equals(pgType, "interval", StringComparison.Ordinal))
        {
            // io.debezium.time.MicroDuration (interval.handling.mode=numeric): microseconds.
            return value.GetInt64().ToString(CultureInfo.InvariantCulture) + " microseconds";
        }

        return value.GetRawText();
    }

    private static string ArrayLiteral(JsonElement array, string pgType, string? semantic, string placeholder)
    {
        var elementType = pgType.EndsWith("[]", StringComparison.Ordinal) ? pgType[..^2] : pgType;
        var literal = new StringBuilder("{");
        var first = true;
        foreach (var element in array.EnumerateArray())
        {
            if (!first)
            {
                literal.Append(',');
            }

            first = false;
            var item = Convert(element, elementType, semantic, placeholder);
            if (item.Kind == ColumnValueKind.Null)
            {
                literal.Append("NULL");
            }
            else
            {
                literal.Append('"').Append(item.Text!.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)).Append('"');
            }
        }

        return literal.Append('}').ToString();
    }

    private static string VariableScaleDecimal(JsonElement value)
    {
        var scale = value.GetProperty("scale").GetInt32();
        var unscaled = new BigInteger(System.Convert.FromBase64String(value.GetProperty("value").GetString()!), isUnsigned: false, isBigEndian: true);
        var digits = BigInteger.Abs(unscaled).ToString(CultureInfo.InvariantCulture);
        if (scale > 0)
        {
            digits = digits.PadLeft(scale + 1, '0');
            digits = digits[..^scale] + "." + digits[^scale..];
        }

        return unscaled.Sign < 0 ? "-" + digits : digits;
    }
}
