using Npgsql;

namespace Geo.Hosting;

/// <summary>
/// A service's own configuration checks beyond its options' validation, run by <c>--check-config</c>: what would fail
/// only once the service starts (a file it cannot read, a connection string Npgsql refuses). Static: nothing is
/// connected to, so a deployment can be checked before the databases it names exist.
/// </summary>
public interface IConfigurationCheck
{
    /// <summary>Every problem found, each a sentence naming the setting; empty when there is none.</summary>
    IEnumerable<string> Check();
}

/// <summary>The checks services share: connection strings, files they read at start, endpoints.</summary>
public static class ConfigurationProblems
{
    /// <summary>An Npgsql connection string that parses, names a host, and whose password file (if any) can be read.</summary>
    public static IEnumerable<string> ConnectionString(string key, string? value, bool required = true)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            if (required)
            {
                yield return $"{key}: required (an Npgsql connection string)";
            }

            yield break;
        }

        if (!TryParse(value, out var builder, out var error))
        {
            yield return $"{key}: not a valid connection string ({error})";
            yield break;
        }

        if (string.IsNullOrWhiteSpace(builder.Host))
        {
            yield return $"{key}: names no Host";
        }

        foreach (var problem in ReadableFile($"{key} Passfile", builder.Passfile, required: false))
        {
            yield return problem;
        }
    }

    /// <summary>Parses a connection string; the error names the keyword, never a value, so a password stays out of the output.</summary>
    private static bool TryParse(string value, out NpgsqlConnectionStringBuilder builder, out string? error)
    {
        try
        {
            builder = new NpgsqlConnectionStringBuilder(value);
            error = null;
            return true;
        }
        catch (ArgumentException e)
        {
            builder = new NpgsqlConnectionStringBuilder();
            error = e.Message;
            return false;
        }
    }

    /// <summary>A file the service reads at start (a key ring, a secret): it exists, can be read and is not empty.</summary>
    public static IEnumerable<string> ReadableFile(string key, string? path, bool required = true)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            if (required)
            {
                yield return $"{key}: required (a file path)";
            }

            yield break;
        }

        string? problem;
        try
        {
            using var file = File.OpenRead(path);
            problem = file.Length == 0 ? $"{key}: {path} is empty" : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            problem = $"{key}: {path} cannot be read ({e.Message})";
        }

        if (problem is not null)
        {
            yield return problem;
        }
    }

    /// <summary>A <c>host:port</c> endpoint.</summary>
    public static IEnumerable<string> Endpoint(string key, string? value, bool required = true)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            if (required)
            {
                yield return $"{key}: required (host:port)";
            }

            yield break;
        }

        var colon = value.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(value.AsSpan(colon + 1), out var port) || port is < 1 or > 65535)
        {
            yield return $"{key}: '{value}' is not host:port";
        }
    }
}
