using System.Security.Cryptography;
using System.Text;

namespace Geo.Schema.Secrets;

/// <summary>
/// Seals secrets for storage with AES-256-GCM. The sealed form is
/// <c>[format 1][key id][nonce 12][tag 16][ciphertext]</c>. Each secret is bound to a context (what it is
/// and which row it belongs to) as associated data, so a sealed value copied to another row does not open.
/// </summary>
public sealed class SecretBox(SecretKeyring keyring)
{
    // An AesGcm holds a native cipher context; creating one per call shows on the authentication hot path,
    // and an instance is not safe to share between threads, so each thread keeps its own per key.
    [ThreadStatic]
    private static Dictionary<(SecretKeyring, byte), AesGcm>? t_ciphers;

    private const byte Format = 1;
    private const int NonceSize = 12;
    private const int TagSize = 16;
    private const int HeaderSize = 2 + NonceSize + TagSize;

    /// <summary>Seals a UTF-8 secret bound to <paramref name="context"/>.</summary>
    public byte[] Seal(string secret, SecretContext context) => Seal(Encoding.UTF8.GetBytes(secret), context);

    /// <summary>Seals bytes bound to <paramref name="context"/>.</summary>
    public byte[] Seal(ReadOnlySpan<byte> secret, SecretContext context)
    {
        var keyId = keyring.ActiveKeyId;
        keyring.TryGetKey(keyId, out var key);
        var sealedValue = new byte[HeaderSize + secret.Length];
        sealedValue[0] = Format;
        sealedValue[1] = keyId;
        var nonce = sealedValue.AsSpan(2, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        var aes = Cipher(keyId, key);
        aes.Encrypt(nonce, secret, sealedValue.AsSpan(HeaderSize), sealedValue.AsSpan(2 + NonceSize, TagSize), context.AssociatedData);
        return sealedValue;
    }

    /// <summary>Opens a sealed value; false when it is malformed, sealed under an unknown key, tampered with or bound to another context.</summary>
    public bool TryOpen(ReadOnlySpan<byte> sealedValue, SecretContext context, out byte[] secret)
    {
        secret = [];
        if (sealedValue.Length < HeaderSize || sealedValue[0] != Format || !keyring.TryGetKey(sealedValue[1], out var key))
        {
            return false;
        }

        var plain = new byte[sealedValue.Length - HeaderSize];
        var aes = Cipher(sealedValue[1], key);
        try
        {
            aes.Decrypt(sealedValue.Slice(2, NonceSize), sealedValue[HeaderSize..], sealedValue.Slice(2 + NonceSize, TagSize), plain, context.AssociatedData);
        }
        catch (AuthenticationTagMismatchException)
        {
            return false;
        }

        secret = plain;
        return true;
    }

    private AesGcm Cipher(byte keyId, byte[] key)
    {
        t_ciphers ??= [];
        if (!t_ciphers.TryGetValue((keyring, keyId), out var aes))
        {
            aes = new AesGcm(key, TagSize);
            t_ciphers[(keyring, keyId)] = aes;
        }

        return aes;
    }

    /// <summary>Opens a sealed UTF-8 secret; false as for <see cref="TryOpen(ReadOnlySpan{byte}, SecretContext, out byte[])"/>.</summary>
    public bool TryOpenString(ReadOnlySpan<byte> sealedValue, SecretContext context, out string secret)
    {
        var opened = TryOpen(sealedValue, context, out var bytes);
        secret = opened ? Encoding.UTF8.GetString(bytes) : "";
        return opened;
    }
}

/// <summary>What a sealed secret is and which row it belongs to: the associated data of its seal.</summary>
public readonly struct SecretContext
{
    private SecretContext(string purpose, string owner) => AssociatedData = Encoding.UTF8.GetBytes($"geo/{purpose}/{owner}");

    internal byte[] AssociatedData { get; }

    /// <summary>A subscriber's password, bound to the subscriber id.</summary>
    public static SecretContext SubscriberPassword(Guid subscriberId) => new("subscriber-password", subscriberId.ToString("N"));

    /// <summary>A NAS shared secret, bound to the NAS id.</summary>
    public static SecretContext NasSecret(string nasId) => new("nas-secret", nasId);
}
