using System.Text;
using Geo.Schema.Secrets;

namespace Geo.Schema.Tests;

public sealed class SecretBoxTests
{
    private static readonly Guid SubscriberId = Guid.Parse("0193a3f0-0000-7000-8000-000000000001");

    [Theory]
    [InlineData("")]
    [InlineData("arctangent")]
    [InlineData("pässwörd with unicode ✓")]
    public void Seal_ThenOpen_ReturnsSecret(string secret)
    {
        var box = new SecretBox(SecretKeyring.Generate());
        var sealedValue = box.Seal(secret, SecretContext.SubscriberPassword(SubscriberId));

        Assert.True(box.TryOpenString(sealedValue, SecretContext.SubscriberPassword(SubscriberId), out var opened));
        Assert.Equal(secret, opened);
    }

    [Fact]
    public void Seal_SameSecretTwice_DifferentCiphertexts()
    {
        var box = new SecretBox(SecretKeyring.Generate());
        var context = SecretContext.NasSecret("bng-1");
        Assert.NotEqual(box.Seal("s3cret", context), box.Seal("s3cret", context));
    }

    [Fact]
    public void Seal_NeverContainsPlaintext()
    {
        var box = new SecretBox(SecretKeyring.Generate());
        var sealedValue = box.Seal("plain-text-password", SecretContext.SubscriberPassword(SubscriberId));
        Assert.DoesNotContain("plain-text-password", Encoding.UTF8.GetString(sealedValue), StringComparison.Ordinal);
    }

    [Fact]
    public void TryOpen_OtherRowsContext_Fails()
    {
        var box = new SecretBox(SecretKeyring.Generate());
        var sealedValue = box.Seal("secret", SecretContext.SubscriberPassword(SubscriberId));
        Assert.False(box.TryOpen(sealedValue, SecretContext.SubscriberPassword(Guid.NewGuid()), out _));
        Assert.False(box.TryOpen(sealedValue, SecretContext.NasSecret(SubscriberId.ToString("N")), out _));
    }

    [Fact]
    public void TryOpen_EveryFlippedByte_Fails()
    {
        var box = new SecretBox(SecretKeyring.Generate());
        var context = SecretContext.NasSecret("bng-1");
        var sealedValue = box.Seal("secret", context);
        for (var i = 0; i < sealedValue.Length; i++)
        {
            var tampered = (byte[])sealedValue.Clone();
            tampered[i] ^= 0x01;
            Assert.False(box.TryOpen(tampered, context, out _), $"byte {i} flipped still opened");
        }
    }

    [Fact]
    public void TryOpen_Truncated_FailsWithoutThrowing()
    {
        var box = new SecretBox(SecretKeyring.Generate());
        var context = SecretContext.NasSecret("bng-1");
        var sealedValue = box.Seal("secret", context);
        for (var length = 0; length < sealedValue.Length; length++)
        {
            Assert.False(box.TryOpen(sealedValue.AsSpan(0, length), context, out _));
        }
    }

    [Fact]
    public void TryOpen_AfterKeyRotation_OldSecretsStillOpen()
    {
        var old = SecretKeyring.Generate();
        var sealedWithOld = new SecretBox(old).Seal("secret", SecretContext.NasSecret("bng-1"));
        var rotated = SecretKeyring.Parse(old.Serialize() + "2:" + Convert.ToBase64String(new byte[32]) + "\n");

        Assert.Equal(2, rotated.ActiveKeyId);
        var box = new SecretBox(rotated);
        Assert.True(box.TryOpenString(sealedWithOld, SecretContext.NasSecret("bng-1"), out var opened));
        Assert.Equal("secret", opened);
        Assert.Equal(2, box.Seal("new", SecretContext.NasSecret("bng-1"))[1]);
    }

    [Fact]
    public void TryOpen_UnknownKeyId_Fails()
    {
        var sealedValue = new SecretBox(SecretKeyring.Generate()).Seal("secret", SecretContext.NasSecret("bng-1"));
        Assert.False(new SecretBox(SecretKeyring.Generate()).TryOpen(sealedValue, SecretContext.NasSecret("bng-1"), out _));
    }

    [Theory]
    [InlineData("")]
    [InlineData("# only a comment")]
    [InlineData("1:notbase64!!")]
    [InlineData("0:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")]
    [InlineData("1:AAAA")]
    [InlineData("key-without-id")]
    public void Parse_BadKeyRing_FormatException(string text)
    {
        Assert.Throws<FormatException>(() => SecretKeyring.Parse(text));
    }

    [Fact]
    public void Parse_BadKey_MessageHoldsNoKeyMaterial()
    {
        const string Material = "c2VjcmV0LWtleS1tYXRlcmlhbA==";
        var error = Assert.Throws<FormatException>(() => SecretKeyring.Parse("3:" + Material));
        Assert.DoesNotContain(Material, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Serialize_ThenParse_SameKeys()
    {
        var ring = SecretKeyring.Generate();
        var sealedValue = new SecretBox(ring).Seal("secret", SecretContext.NasSecret("n"));
        Assert.True(new SecretBox(SecretKeyring.Parse(ring.Serialize())).TryOpen(sealedValue, SecretContext.NasSecret("n"), out _));
    }
}
