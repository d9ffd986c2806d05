namespace Geo.Schema.Migrations;

/// <summary>An ordered, validated list of migrations for one kind of database.</summary>
public sealed class MigrationSet
{
    private MigrationSet(string name, IReadOnlyList<Migration> migrations)
    {
        Name = name;
        Migrations = migrations;
    }

    /// <summary>The migrations of the directory database (the control-plane map).</summary>
    public static MigrationSet Directory { get; } = FromResources("directory");

    /// <summary>The migrations of every tenant shard database and its replicas.</summary>
    public static MigrationSet Tenant { get; } = FromResources("tenant");

    /// <summary>The set's name, as messages and the migration table show it.</summary>
    public string Name { get; }

    /// <summary>The migrations, in version order.</summary>
    public IReadOnlyList<Migration> Migrations { get; }

    /// <summary>The highest version in the set.</summary>
    public int LatestVersion => Migrations.Count == 0 ? 0 : Migrations[^1].Version;

    /// <summary>Builds a set from migrations given in any order; refuses duplicate versions.</summary>
    public static MigrationSet Create(string name, IEnumerable<Migration> migrations)
    {
        var ordered = migrations.OrderBy(m => m.Version).ToArray();
        for (var i = 1; i < ordered.Length; i++)
        {
            if (ordered[i].Version == ordered[i - 1].Version)
            {
                throw new MigrationException($"{name}: {ordered[i - 1].FileName} and {ordered[i].FileName} share version {ordered[i].Version}");
            }
        }

        return new MigrationSet(name, ordered);
    }

    /// <summary>Looks a set up by name: <c>directory</c> or <c>tenant</c>.</summary>
    public static MigrationSet Named(string name) => name switch
    {
        "directory" => Directory,
        "tenant" => Tenant,
        _ => throw new MigrationException($"unknown migration set '{name}' (known: directory, tenant)"),
    };

    private static MigrationSet FromResources(string name)
    {
        var assembly = typeof(MigrationSet).Assembly;
        var prefix = $"migrations/{name}/";
        var migrations = new List<Migration>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith(prefix, StringComparison.Ordinal))
            {
                continue;
            }

            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream);
            migrations.Add(Migration.Create(resource[prefix.Length..], reader.ReadToEnd()));
        }

        return Create(name, migrations);
    }
}
