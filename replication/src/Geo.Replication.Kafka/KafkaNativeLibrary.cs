using System.Reflection;
using System.Runtime.InteropServices;
using Confluent.Kafka;

namespace Geo.Replication.Kafka;

/// <summary>
/// Loads librdkafka on Debian: the default <c>librdkafka.so</c> wants RHEL's <c>libsasl2.so.3</c>, so it resolves to
/// <c>centos8-librdkafka.so</c>; Confluent.Kafka's loader needs <c>libdl</c>, only <c>libdl.so.2</c> without libc6-dev.
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
