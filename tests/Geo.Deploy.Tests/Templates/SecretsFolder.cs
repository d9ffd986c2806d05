using System.Security.Cryptography;

namespace Geo.Deploy.Tests.Templates;

/// <summary>
/// The secret files a rendered configuration points at (its <c>secrets_dir</c>), in a private temp folder: what
/// --check-config reads (it opens them, and parses the key ring). Random each time; never real secrets.
/// </summary>
internal sealed class SecretsFolder : IDisposable
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public SecretsFolder()
    {
        Path = Directory.CreateTempSubdirectory("geo-deploy-secrets-").FullName;
        Write("keyring", "1:" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)) + "\n");
        Write("inter-region-secret", RandomText() + "\n");
        Write("redis-password", RandomText() + "\n");
        Write("pgpass", "*:*:*:*:x\n");
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose() => Directory.Delete(Path, recursive: true);

    private static string RandomText() => Convert.ToHexString(RandomNumberGenerator.GetBytes(24));

    private void Write(string name, string text)
    {
        var path = File(name);
        System.IO.File.WriteAllText(path, text);
        System.IO.File.SetUnixFileMode(path, OwnerOnly);
    }
}
