using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Geo.Schema.Secrets;

/// <summary>
/// AES-256 keys (by one-byte id) that seal secrets at rest; new secrets use the highest, older ones stay to open what they
/// sealed, so rotation needs no bulk re-encryption. Text: <c>&lt;id&gt;:&lt;base64 of 32 bytes&gt;</c>, per line or ';'.
/// </summary>
public sealed class SecretKeyring
{
    private readonly Dictionary<byte, byte[]> _keys;

    private SecretKeyring(Dictionary<byte, byte[]> keys)
    {
        _keys = keys;
        ActiveKeyId = keys.Keys.Max();
    }

    /// <summary>The id of the key that seals new secrets.</summary>
    public byte ActiveKeyId { get; }

    /// <summary>A new key ring with one random key (id 1).</summary>
    public static SecretKeyring Generate() => new(new Dictionary<byte, byte[]> { [1] = RandomNumberGenerator.GetBytes(32) });

    /// <summary>Parses the text form; the message of a failure never contains key material.</summary>
    public static SecretKeyring Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var keys = new Dictionary<byte, byte[]>();
        foreach (var raw in text.Split(['\n', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (raw.StartsWith('#'))
            {
                continue;
            }

            var colon = raw.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || !byte.TryParse(raw.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out var id) || id == 0)
            {
                throw new FormatException("key ring entry must be '<id 1-255>:<base64 key>'");
            }

            var key = new byte[32];
            if (!Convert.TryFromBase64String(raw[(colon + 1)..], key, out var length) || length != 32)
            {
                throw new FormatException($"key ring entry {id}: the key must be 32 bytes in base64");
            }

            if (!keys.TryAdd(id, key))
            {
                throw new FormatException($"key ring entry {id} appears twice");
            }
        }

        return keys.Count == 0 ? throw new FormatException("key ring holds no key") : new SecretKeyring(keys);
    }

    /// <summary>Reads a key ring file.</summary>
    public static SecretKeyring Load(string path) => Parse(File.ReadAllText(path));

    /// <summary>The text form, to be written to a file only the service user can read.</summary>
    public string Serialize()
    {
        var text = new StringBuilder();
        foreach (var (id, key) in _keys.OrderBy(k => k.Key))
        {
            text.Append(id.ToString(CultureInfo.InvariantCulture)).Append(':').Append(Convert.ToBase64String(key)).Append('\n');
        }

        return text.ToString();
    }

    internal bool TryGetKey(byte id, out byte[] key) => _keys.TryGetValue(id, out key!);
}
