namespace Geo.Replication.Changes;

/// <summary>
/// The shape of a source table as the change stream describes it: schema, name, the columns of its row
/// images in order, and which of them form the replica identity (the primary key).
/// </summary>
public sealed class ChangeTable
{
    /// <summary>Creates a table description.</summary>
    public ChangeTable(string schema, string name, IReadOnlyList<string> columns, IReadOnlyList<int> keyColumns)
    {
        ArgumentException.ThrowIfNullOrEmpty(schema);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(keyColumns);
        Schema = schema;
        Name = name;
        Columns = columns;
        KeyColumns = keyColumns;
    }

    /// <summary>The schema (namespace), e.g. <c>public</c>.</summary>
    public string Schema { get; }

    /// <summary>The table name.</summary>
    public string Name { get; }

    /// <summary>Column names in row-image order.</summary>
    public IReadOnlyList<string> Columns { get; }

    /// <summary>Indexes into <see cref="Columns"/> of the key columns (may be empty when the source does not say).</summary>
    public IReadOnlyList<int> KeyColumns { get; }

    /// <summary>The PostgreSQL type OID of each column, when the source says (pgoutput does).</summary>
    public IReadOnlyList<uint>? ColumnTypeOids { get; init; }

    /// <summary>The index of <paramref name="column"/> in the row images; -1 when the table has no such column.</summary>
    public int IndexOf(string column)
    {
        for (var i = 0; i < Columns.Count; i++)
        {
            if (string.Equals(Columns[i], column, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary><c>schema.table</c>, as Debezium names a data collection.</summary>
    public string QualifiedName => $"{Schema}.{Name}";

    /// <inheritdoc />
    public override string ToString() => QualifiedName;
}
