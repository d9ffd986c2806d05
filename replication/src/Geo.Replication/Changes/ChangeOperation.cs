namespace Geo.Replication.Changes;

/// <summary>What a change event did to its row; the letters are Debezium's <c>op</c> codes.</summary>
public enum ChangeOperation
{
    /// <summary><c>c</c>: a row was inserted.</summary>
    Create,

    /// <summary><c>u</c>: a row was updated.</summary>
    Update,

    /// <summary><c>d</c>: a row was deleted.</summary>
    Delete,

    /// <summary><c>t</c>: the table was truncated.</summary>
    Truncate,

    /// <summary><c>r</c>: a row read by a snapshot (applied like an insert).</summary>
    Read,
}

/// <summary>Debezium's one-letter codes for <see cref="ChangeOperation"/>.</summary>
public static class ChangeOperationCodes
{
    /// <summary>The Debezium <c>op</c> letter of an operation.</summary>
    public static char ToCode(this ChangeOperation operation) => operation switch
    {
        ChangeOperation.Create => 'c',
        ChangeOperation.Update => 'u',
        ChangeOperation.Delete => 'd',
        ChangeOperation.Truncate => 't',
        ChangeOperation.Read => 'r',
        _ => throw new ArgumentOutOfRangeException(nameof(operation), operation, null),
    };

    /// <summary>Parses a Debezium <c>op</c> letter; false for anything else (including <c>m</c>, a message).</summary>
    public static bool TryParse(string? code, out ChangeOperation operation)
    {
        switch (code)
        {
            case "c": operation = ChangeOperation.Create; return true;
            case "u": operation = ChangeOperation.Update; return true;
            case "d": operation = ChangeOperation.Delete; return true;
            case "t": operation = ChangeOperation.Truncate; return true;
            case "r": operation = ChangeOperation.Read; return true;
            default: operation = default; return false;
        }
    }
}
