using System.Globalization;
using System.Text.Json;
using Geo.Replication.Changes;

namespace Geo.Replication.Kafka;

/// <summary>
/// Where a Kafka-fed replica stands: for every topic partition the next offset to read (everything before it is
/// applied or belongs to an applied transaction), and the source LSN of the last applied transaction. Stored as
/// JSON in <c>replication_progress.position</c>, in the same transaction as the changes.
/// </summary>
internal sealed record KafkaPosition(ulong Lsn, IReadOnlyDictionary<string, long> NextOffsets)
{
    public static KafkaPosition Empty { get; } = new(0, new Dictionary<string, long>());

    public static string Key(string topic, int partition) => $"{topic}/{partition.ToString(CultureInfo.InvariantCulture)}";

    public string ToToken()
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            writer.WriteString("lsn", Changes.Lsn.Format(Lsn));
            writer.WriteStartObject("offsets");
            foreach (var (key, offset) in NextOffsets.OrderBy(o => o.Key, StringComparer.Ordinal))
            {
                writer.WriteNumber(key, offset);
            }

            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    public static bool TryParse(string? token, out KafkaPosition position)
    {
        position = Empty;
        if (string.IsNullOrEmpty(token) || token[0] != '{')
        {
            return false;
        }

        try
        {
            using var document = JsonDocument.Parse(token);
            var root = document.RootElement;
            if (!root.TryGetProperty("offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Object)
            {
                return false;
            }

            var lsn = 0UL;
            if (root.TryGetProperty("lsn", out var lsnText) && !Changes.Lsn.TryParse(lsnText.GetString(), out lsn))
            {
                return false;
            }

            var next = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var property in offsets.EnumerateObject())
            {
                next[property.Name] = property.Value.GetInt64();
            }

            position = new KafkaPosition(lsn, next);
            return true;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException)
        {
            return false;
        }
    }

    public SourcePosition ToSourcePosition() => new(Lsn, ToToken());
}
