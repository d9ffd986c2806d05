namespace Geo.Replication;

/// <summary>A replication stream cannot go on as it is: a missing slot, a replica that does not match, a malformed event.</summary>
public sealed class ReplicationException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ReplicationException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public ReplicationException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    public ReplicationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
