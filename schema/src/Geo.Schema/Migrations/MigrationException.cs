namespace Geo.Schema.Migrations;

/// <summary>A migration set is invalid or a database refused it; the message names the file and the database.</summary>
public sealed class MigrationException : Exception
{
    public MigrationException(string message) : base(message)
    {
    }

    public MigrationException(string message, Exception inner) : base(message, inner)
    {
    }

    public MigrationException()
    {
    }
}
