namespace Geo.Deploy.Tests;

/// <summary>The source tree the tests check: found by walking up from the test's output folder to Geo.sln.</summary>
internal static class Repository
{
    public static string Root { get; } = FindRoot();

    /// <summary>The environment variable naming another tree to check instead of terraform/ (a copy with a deliberate mistake, say).</summary>
    public const string TerraformFolderVariable = "GEO_DEPLOY_TERRAFORM_DIR";

    public static string Terraform =>
        Environment.GetEnvironmentVariable(TerraformFolderVariable) is { Length: > 0 } folder ? Path.GetFullPath(folder) : Path.Combine(Root, "terraform");

    /// <summary>The Node package holding HashiCorp's HCL parser (installed by eng/setup.sh).</summary>
    public static string HclParser => Path.Combine(Root, "tests", "Geo.Deploy.Tests", "hcl");

    private static string FindRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "Geo.sln")))
            {
                return folder.FullName;
            }
        }

        throw new InvalidOperationException($"no folder above {AppContext.BaseDirectory} holds Geo.sln: the tests read terraform/ from the source tree");
    }
}
