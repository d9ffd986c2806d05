using Geo.Radius.Security;
using static Geo.Radius.Tests.TestData;

namespace Geo.Radius.Tests;

public sealed class UserPasswordTests
{
    private static readonly byte[][] Secrets = ["a"u8.ToArray(), "xyzzy5461"u8.ToArray(), Enumerable.Repeat((byte)0x5a, 300).ToArray()];

    [Fact]
    public void TryHide_EveryLengthUpTo128_MatchesReferenceAndRecovers()
    {
        var random = new Random(5_2);
        Span<byte> hidden = stackalloc byte[128];
        Span<byte> recovered = stackalloc byte[128];
        byte[] authenticator = new byte[16];

        foreach (byte[] secret in Secrets)
        {
            for (int length = 0; length <= 128; length++)
            {
                random.NextBytes(authenticator);
                byte[] password = new byte[length];
                for (int i = 0; i < length; i++)
                {
                    password[i] = (byte)random.Next(1, 256); // NUL cannot end a RADIUS password
                }

                Assert.Equal(UserPasswordStatus.Ok, UserPassword.TryHide(password, secret, authenticator, hidden, out int hiddenLength));
                Assert.Equal(Math.Max(16, (length + 15) / 16 * 16), hiddenLength);
                Assert.Equal(ReferenceHide(password, secret, authenticator), hidden[..hiddenLength].ToArray());

                Assert.Equal(UserPasswordStatus.Ok, UserPassword.TryRecover(hidden[..hiddenLength], secret, authenticator, recovered, out int written));
                Assert.Equal(password, recovered[..written].ToArray());
            }
        }
    }

    [Fact]
    public void TryRecover_DifferentAuthenticator_DoesNotRecoverPassword()
    {
        byte[] authenticator = new byte[16];
        byte[] other = new byte[16];
        other[0] = 1;
        Span<byte> hidden = stackalloc byte[128];
        Span<byte> recovered = stackalloc byte[128];
        UserPassword.TryHide("password1"u8, "s"u8, authenticator, hidden, out int hiddenLength);

        UserPassword.TryRecover(hidden[..hiddenLength], "s"u8, other, recovered, out int written);

        Assert.NotEqual("password1"u8.ToArray(), recovered[..written].ToArray());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(15)]
    [InlineData(17)]
    [InlineData(31)]
    [InlineData(144)]
    [InlineData(253)]
    public void TryRecover_HiddenLengthNotBlockMultipleUpTo128_ReturnsInvalidLength(int length)
    {
        Span<byte> recovered = stackalloc byte[256];

        var status = UserPassword.TryRecover(new byte[length], "s"u8, new byte[16], recovered, out int written);

        Assert.Equal(UserPasswordStatus.InvalidLength, status);
        Assert.Equal(0, written);
    }

    [Fact]
    public void TryHide_PasswordOver128Octets_ReturnsPasswordTooLong()
    {
        Span<byte> hidden = stackalloc byte[256];

        Assert.Equal(UserPasswordStatus.PasswordTooLong, UserPassword.TryHide(new byte[129], "s"u8, new byte[16], hidden, out _));
    }

    [Fact]
    public void TryHide_SmallDestination_ReturnsDestinationTooSmall()
    {
        Span<byte> hidden = stackalloc byte[31];

        Assert.Equal(UserPasswordStatus.DestinationTooSmall, UserPassword.TryHide(new byte[17], "s"u8, new byte[16], hidden, out _));
    }

    [Fact]
    public void TryRecover_SmallDestination_ReturnsDestinationTooSmall()
    {
        Span<byte> hidden = stackalloc byte[16];
        UserPassword.TryHide("twelve chars"u8, "s"u8, new byte[16], hidden, out _);
        Span<byte> recovered = stackalloc byte[11];

        Assert.Equal(UserPasswordStatus.DestinationTooSmall, UserPassword.TryRecover(hidden, "s"u8, new byte[16], recovered, out _));
    }

    [Fact]
    public void TryRecover_AuthenticatorNot16Octets_ReturnsInvalidAuthenticator()
    {
        Span<byte> recovered = stackalloc byte[16];

        Assert.Equal(UserPasswordStatus.InvalidAuthenticator, UserPassword.TryRecover(new byte[16], "s"u8, new byte[15], recovered, out _));
    }

    [Fact]
    public void TryRecover_RequestWithoutUserPassword_ReturnsAbsent()
    {
        RadiusPacket.TryRead(Packet(1, 1, new byte[16], Attribute(1, Ascii("x"))), out var request);
        Span<byte> recovered = stackalloc byte[16];

        Assert.Equal(UserPasswordStatus.Absent, UserPassword.TryRecover(request, "s"u8, recovered, out _));
    }

    [Fact]
    public void TryRecover_RequestWithBadUserPasswordLength_ReturnsInvalidLength()
    {
        RadiusPacket.TryRead(Packet(1, 1, new byte[16], Attribute(2, new byte[20])), out var request);
        Span<byte> recovered = stackalloc byte[128];

        Assert.Equal(UserPasswordStatus.InvalidLength, UserPassword.TryRecover(request, "s"u8, recovered, out _));
    }

    [Fact]
    public void TryHide_DestinationOverlapsPassword_StillCorrect()
    {
        byte[] authenticator = Hex("0102030405060708090a0b0c0d0e0f10");
        byte[] buffer = new byte[32];
        "overlapping-password"u8.CopyTo(buffer);
        byte[] expected = ReferenceHide("overlapping-password"u8.ToArray(), "s"u8.ToArray(), authenticator);

        UserPassword.TryHide(buffer.AsSpan(0, 20), "s"u8, authenticator, buffer, out int written);

        Assert.Equal(expected, buffer[..written]);
    }
}
