namespace Geo.Ctl.LocalStack;

/// <summary>
/// One geoctl at a time per stack: an exclusive lock on <c>geoctl.lock</c> (flock on Linux), released when
/// the process ends however it ends.
/// </summary>
internal sealed class StackLock : IDisposable
{
    private readonly FileStream _file;

    private StackLock(FileStream file) => _file = file;

    public static StackLock Acquire(StackLayout layout)
    {
        // Other users may pass through (PostgreSQL runs as its own user when root starts the stack) but not list it; every
        // secret, data folder and log below it is its owner's only.
        System.IO.Directory.CreateDirectory(layout.Root);
        File.SetUnixFileMode(layout.Root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        try
        {
            return new StackLock(new FileStream(layout.LockFile, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
        }
        catch (IOException)
        {
            throw new StackException($"another geoctl is working on the stack in {StackLayout.Show(layout.Root)}; wait for it to finish");
        }
    }

    public void Dispose() => _file.Dispose();
}

/// <summary>An operator-facing failure of a stack command: the message says what is wrong and what to do.</summary>
internal sealed class StackException(string message) : Exception(message);
