namespace Geo.Engines;

/// <summary>An engine (PostgreSQL, Redis) could not be installed, started or stopped; the message says why.</summary>
public sealed class EngineException : Exception
{
    public EngineException(string message) : base(message)
    {
    }

    public EngineException(string message, Exception inner) : base(message, inner)
    {
    }

    public EngineException()
    {
    }
}
