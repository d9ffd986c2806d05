using System.Text.Json;
using System.Text.Json.Serialization;
using Npgsql;

namespace Geo.Ctl.LocalStack;

/// <summary>
/// A deployment as geoctl reaches it (<c>platform.json</c> in the state folder, instead of a local stack's
/// <c>stack.json</c>): the directory database and each region's PostgreSQL server, as connection strings for the
/// administrator's role (passwords in a password file, <c>Passfile=</c>). The key ring, the operator key and the
/// inter-region secret are files beside it, named as in a local stack's folder.
/// </summary>
internal sealed record DeploymentFile
{
    /// <summary>The directory database (<c>Database=geo_directory</c>).</summary>
    public string Directory { get; init; } = "";

    /// <summary>Each region's PostgreSQL server by region id, without a database.</summary>
    public Dictionary<string, string> Servers { get; init; } = new(StringComparer.Ordinal);

    /// <summary>The deployment described in <paramref name="layout"/>'s folder; null when it holds none.</summary>
    public static DeploymentFile? Load(StackLayout layout)
    {
        if (!File.Exists(layout.DeploymentFile))
        {
            return null;
        }

        DeploymentFile? file;
        try
        {
            file = JsonSerializer.Deserialize(File.ReadAllText(layout.DeploymentFile), DeploymentFileJson.Default.DeploymentFile);
        }
        catch (JsonException ex)
        {
            throw new StackException($"{layout.DeploymentFile}: not valid JSON ({ex.Message})");
        }

        var problems = file is null ? ["it is empty"] : file.Problems().ToList();
        return problems.Count == 0
            ? file
            : throw new StackException($"{layout.DeploymentFile}: {string.Join("; ", problems)} (docs/deploy.md describes the file)");
    }

    private IEnumerable<string> Problems()
    {
        if (string.IsNullOrWhiteSpace(Directory))
        {
            yield return "\"directory\" (the directory database's connection string) is required";
        }
        else if (!Parses(Directory))
        {
            yield return "\"directory\" is not a valid connection string";
        }

        if (Servers.Count == 0)
        {
            yield return "\"servers\" must name each region's PostgreSQL server (\"a\": \"Host=…;Username=geo_admin\")";
        }

        foreach (var (region, server) in Servers.Where(s => !Parses(s.Value)))
        {
            yield return $"\"servers\".\"{region}\" is not a valid connection string";
        }
    }

    private static bool Parses(string connectionString)
    {
        try
        {
            return !string.IsNullOrWhiteSpace(new NpgsqlConnectionStringBuilder(connectionString).Host);
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true)]
[JsonSerializable(typeof(DeploymentFile))]
internal sealed partial class DeploymentFileJson : JsonSerializerContext;
