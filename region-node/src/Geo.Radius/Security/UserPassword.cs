namespace Geo.Radius.Security;

/// <summary>
/// User-Password hiding (RFC 2865 §5.2): the password, padded with NULs to a multiple of 16 octets, is XORed
/// block by block with b1 = MD5(S + RA), b2 = MD5(S + c1), ... where S is the shared secret, RA the Request
/// Authenticator and ci the previous cipher block. Bad lengths give a status; nothing throws.
/// </summary>
public static class UserPassword
{
    /// <summary>The longest password RADIUS can carry.</summary>
    public const int MaxPasswordLength = 128;

    private const int BlockLength = 16;

    /// <summary>The hidden length of a password of <paramref name="passwordLength"/> octets: a multiple of 16, at least 16.</summary>
    public static int GetHiddenLength(int passwordLength) =>
        passwordLength <= BlockLength ? BlockLength : (passwordLength + BlockLength - 1) / BlockLength * BlockLength;

    /// <summary>Hides <paramref name="password"/> into <paramref name="destination"/>.</summary>
    public static UserPasswordStatus TryHide(
        ReadOnlySpan<byte> password,
        ReadOnlySpan<byte> secret,
        ReadOnlySpan<byte> requestAuthenticator,
        Span<byte> destination,
        out int written)
    {
        written = 0;
        if (password.Length > MaxPasswordLength)
        {
            return UserPasswordStatus.PasswordTooLong;
        }

        if (requestAuthenticator.Length != RadiusWire.AuthenticatorLength)
        {
            return UserPasswordStatus.InvalidAuthenticator;
        }

        int hiddenLength = GetHiddenLength(password.Length);
        if (destination.Length < hiddenLength)
        {
            return UserPasswordStatus.DestinationTooSmall;
        }

        // Work in a local buffer so that destination may overlap the inputs.
        Span<byte> output = stackalloc byte[MaxPasswordLength];
        output = output[..hiddenLength];
        output.Clear();
        password.CopyTo(output);

        Span<byte> key = stackalloc byte[RadiusHash.DigestLength];
        scoped ReadOnlySpan<byte> chain = requestAuthenticator;
        for (int offset = 0; offset < hiddenLength; offset += BlockLength)
        {
            RadiusHash.Md5(secret, chain, default, key);
            var block = output.Slice(offset, BlockLength);
            Xor(block, key);
            chain = block;
        }

        output.CopyTo(destination);
        key.Clear();
        written = hiddenLength;
        return UserPasswordStatus.Ok;
    }

    /// <summary>
    /// Recovers the password from the hidden value of a User-Password attribute; trailing NUL padding is removed.
    /// </summary>
    public static UserPasswordStatus TryRecover(
        ReadOnlySpan<byte> hidden,
        ReadOnlySpan<byte> secret,
        ReadOnlySpan<byte> requestAuthenticator,
        Span<byte> destination,
        out int written)
    {
        written = 0;
        if (hidden.Length < BlockLength || hidden.Length > MaxPasswordLength || hidden.Length % BlockLength != 0)
        {
            return UserPasswordStatus.InvalidLength;
        }

        if (requestAuthenticator.Length != RadiusWire.AuthenticatorLength)
        {
            return UserPasswordStatus.InvalidAuthenticator;
        }

        Span<byte> output = stackalloc byte[MaxPasswordLength];
        output = output[..hidden.Length];
        Span<byte> key = stackalloc byte[RadiusHash.DigestLength];
        scoped ReadOnlySpan<byte> chain = requestAuthenticator;
        for (int offset = 0; offset < hidden.Length; offset += BlockLength)
        {
            RadiusHash.Md5(secret, chain, default, key);
            var cipher = hidden.Slice(offset, BlockLength);
            var block = output.Slice(offset, BlockLength);
            cipher.CopyTo(block);
            Xor(block, key);
            chain = cipher;
        }

        key.Clear();
        int length = output.LastIndexOfAnyExcept((byte)0) + 1;
        if (destination.Length < length)
        {
            output.Clear();
            return UserPasswordStatus.DestinationTooSmall;
        }

        output[..length].CopyTo(destination);
        output.Clear();
        written = length;
        return UserPasswordStatus.Ok;
    }

    /// <summary>Recovers the User-Password of an Access-Request with the secret of the NAS that sent it.</summary>
    public static UserPasswordStatus TryRecover(RadiusPacket request, ReadOnlySpan<byte> secret, Span<byte> destination, out int written)
    {
        if (!request.TryGetAttribute(Dictionary.RadiusAttributeType.UserPassword, out var hidden))
        {
            written = 0;
            return UserPasswordStatus.Absent;
        }

        return TryRecover(hidden, secret, request.Authenticator, destination, out written);
    }

    private static void Xor(Span<byte> block, ReadOnlySpan<byte> key)
    {
        for (int i = 0; i < block.Length; i++)
        {
            block[i] ^= key[i];
        }
    }
}
