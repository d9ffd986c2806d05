using System.Reflection;
using System.Runtime.InteropServices;
using Confluent.Kafka;

namespace Geo.Replication.Kafka;

/// <summary>
/// Loads librdkafka from librdkafka.redist's own build on Debian. The package's default <c>linux-x64/native/librdkafka.so</c>
/// wants <c>libsasl2.so.3</c> (a RHEL name; Debian has <c>libsasl2.so.2</c>), so librdkafka resolves to the package's
/// <c>centos8-librdkafka.so</c> beside it, which links only what Debian has; Confluent.Kafka's loader P/Invokes
/// <c>libdl</c>, which exists only as <c>libdl.so.2</c> without libc6-dev.
/// </summary>
public static class KafkaNativeLibrary
{
    private static readonly Lazy<bool> Registered = new(Register);

    /// <summary>Sets the resolver once, before the first Kafka client is built.</summary>
    public static void EnsureRegistered() => _ = Registered.Value;

    private static bool Register()
    {
        NativeLibrary.SetDllImportResolver(typeof(Library).Assembly, Resolve);
        return true;
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (name == "libdl")
        {
            return NativeLibrary.TryLoad("libdl.so.2", out var handle) ? handle : IntPtr.Zero;
        }

        if (name.StartsWith("librdkafka", StringComparison.Ordinal) && OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64)
        {
            var file = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "centos8-librdkafka.so");
            if (File.Exists(file) && NativeLibrary.TryLoad(file, out var handle))
            {
                return handle;
            }
        }

        return IntPtr.Zero;
    }
}
