namespace Geo.Replication.Changes;

/// <summary>What a column of a row image holds.</summary>
public enum ColumnValueKind
{
    /// <summary>SQL NULL.</summary>
    Null,

    /// <summary>A value in PostgreSQL's text format.</summary>
    Text,

    /// <summary>An unchanged TOASTed value the source did not send: the replica keeps what it has.</summary>
    Unchanged,
}

/// <summary>
/// One column of a row image, in PostgreSQL's text format (what pgoutput sends in text mode and what a type's
/// input function reads): lossless for every type, and applied with an explicit cast to the replica's column type.
/// </summary>
public readonly record struct ColumnValue
{
    private ColumnValue(ColumnValueKind kind, string? text)
    {
        Kind = kind;
        Text = text;
    }

    /// <summary>SQL NULL.</summary>
    public static ColumnValue Null { get; } = new(ColumnValueKind.Null, null);

    /// <summary>An unchanged TOASTed value (not sent by the source).</summary>
    public static ColumnValue Unchanged { get; } = new(ColumnValueKind.Unchanged, null);

    /// <summary>What the column holds.</summary>
    public ColumnValueKind Kind { get; }

    /// <summary>The value's text when <see cref="Kind"/> is <see cref="ColumnValueKind.Text"/>.</summary>
    public string? Text { get; }

    /// <summary>A value in PostgreSQL's text format.</summary>
    public static ColumnValue Of(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return new ColumnValue(ColumnValueKind.Text, text);
    }

    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        ColumnValueKind.Null => "NULL",
        ColumnValueKind.Unchanged => "(unchanged toast)",
        _ => Text!,
    };
}
