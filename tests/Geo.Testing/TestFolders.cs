namespace Geo.Testing;

/// <summary>Temp folders for engines: world-traversable, because PostgreSQL runs as its own user.</summary>
public static class TestFolders
{
    /// <summary>Creates a new empty folder under the temp directory.</summary>
    public static string Create(string prefix)
    {
        var directory = Directory.CreateTempSubdirectory($"geo-{prefix}-").FullName;
        File.SetUnixFileMode(directory,
            UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
            UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        return directory;
    }
}
