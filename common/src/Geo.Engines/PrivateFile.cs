namespace Geo.Engines;

/// <summary>Files only their owner can read (secrets, keys, credentials).</summary>
public static class PrivateFile
{
    /// <summary>
    /// Writes the file through a temporary one created with mode 0600 before the content goes in (no moment where
    /// another user could read it), then moves it into place, so a reader never sees half a file.
    /// </summary>
    public static async Task WriteAsync(string path, string content, CancellationToken cancellationToken)
    {
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var temp = path + ".tmp";
        File.Delete(temp);
        await using (var stream = new FileStream(temp, new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        }))
        await using (var writer = new StreamWriter(stream))
        {
            await writer.WriteAsync(content.AsMemory(), cancellationToken);
        }

        File.Move(temp, path, overwrite: true);
    }

    /// <summary>The same, synchronously.</summary>
    public static void Write(string path, string content) => WriteAsync(path, content, CancellationToken.None).GetAwaiter().GetResult();
}
