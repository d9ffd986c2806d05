namespace Geo.Directory;

/// <summary>A directory store answered something it should not have (an unexpected status, malformed data).</summary>
public sealed class DirectoryStoreException : Exception
{
    /// <summary>Creates the exception.</summary>
    public DirectoryStoreException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public DirectoryStoreException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    public DirectoryStoreException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
