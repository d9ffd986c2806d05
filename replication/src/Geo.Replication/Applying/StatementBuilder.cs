using System.Globalization;
using System.Text;
using Geo.Replication.Changes;
using Geo.Replication.PgOutput;

namespace Geo.Replication.Applying;

/// <summary>
/// How one source table's row images map onto its replica table: for each source column the replica column
/// and its type, and where the primary key sits. Built once per table description and reused.
/// </summary>
internal sealed class TableBinding
{
    private readonly Dictionary<(char Op, UInt128 Mask, bool KeyFromBefore), string> _statements = [];

    public TableBinding(ChangeTable source, ReplicaTable replica)
    {
        Source = source;
        Replica = replica;
        if (source.Columns.Count > 128)
        {
            throw new ReplicationException($"{source}: more than 128 columns are not supported");
        }

        Types = new string[source.Columns.Count];
        for (var i = 0; i < source.Columns.Count; i++)
        {
            var index = replica.IndexOf(source.Columns[i]);
            if (index < 0)
            {
                throw new ReplicationException(
                    $"{source}: column '{source.Columns[i]}' is missing on the replica (apply the same migrations to the replica before streaming them)");
            }

            Types[i] = replica.Columns[index].Type;
        }

        KeyPositions = new int[replica.PrimaryKey.Count];
        for (var k = 0; k < KeyPositions.Length; k++)
        {
            KeyPositions[k] = IndexOfSource(replica.PrimaryKey[k]);
        }
    }

    public ChangeTable Source { get; }

    public ReplicaTable Replica { get; }

    /// <summary>The replica type of each source column, for the cast that makes the server parse the text.</summary>
    public string[] Types { get; }

    /// <summary>For each replica primary-key column, its position in the source row (-1 when the source does not send it).</summary>
    public int[] KeyPositions { get; }

    public string Statement(char op, UInt128 mask, bool keyFromBefore)
    {
        if (!_statements.TryGetValue((op, mask, keyFromBefore), out var sql))
        {
            sql = op switch
            {
                'c' => BuildInsert(mask),
                'u' => BuildUpdate(mask),
                'd' => BuildDelete(),
                _ => throw new ArgumentOutOfRangeException(nameof(op)),
            };
            _statements[(op, mask, keyFromBefore)] = sql;
        }

        return sql;
    }

    /// <summary>
    /// The set-based form of <see cref="Statement"/>: one statement for many rows of the same shape, each column
    /// travelling as a text array (<c>unnest</c>) and cast to the replica type. An update or delete group must not
    /// name the same key twice (UPDATE ... FROM would apply only one of them).
    /// </summary>
    public string SetStatement(char op, UInt128 mask, bool keyFromBefore)
    {
        var cacheKey = (char.ToUpperInvariant(op), mask, keyFromBefore);
        if (!_statements.TryGetValue(cacheKey, out var sql))
        {
            sql = op switch
            {
                'c' => BuildSetInsert(mask),
                'u' => BuildSetUpdate(mask),
                'd' => BuildSetDelete(),
                _ => throw new ArgumentOutOfRangeException(nameof(op)),
            };
            _statements[cacheKey] = sql;
        }

        return sql;
    }

    private string BuildSetInsert(UInt128 mask)
    {
        var columns = new StringBuilder();
        var values = new StringBuilder();
        var parameter = 0;
        foreach (var i in Columns(mask))
        {
            var separator = parameter > 0 ? ", " : "";
            columns.Append(separator).Append(SqlIdentifier.Quote(Source.Columns[i]));
            parameter++;
            values.Append(separator).Append("geo_u.p").Append(Number(parameter)).Append("::").Append(Types[i]);
        }

        return $"INSERT INTO {Replica.Quoted} ({columns}) SELECT {values} FROM {Unnest(parameter, 0)}";
    }

    private string BuildSetUpdate(UInt128 mask)
    {
        var sql = new StringBuilder("UPDATE ").Append(Replica.Quoted).Append(" AS geo_r SET ");
        var parameter = 0;
        foreach (var i in Columns(mask))
        {
            sql.Append(parameter > 0 ? ", " : "").Append(SqlIdentifier.Quote(Source.Columns[i])).Append(" = geo_u.p");
            sql.Append(Number(++parameter)).Append("::").Append(Types[i]);
        }

        sql.Append(" FROM ").Append(Unnest(parameter, KeyPositions.Length));
        AppendSetKeyCondition(sql);
        return sql.ToString();
    }

    private string BuildSetDelete()
    {
        var sql = new StringBuilder("DELETE FROM ").Append(Replica.Quoted).Append(" AS geo_r USING ").Append(Unnest(0, KeyPositions.Length));
        AppendSetKeyCondition(sql);
        return sql.ToString();
    }

    private IEnumerable<int> Columns(UInt128 mask)
    {
        for (var i = 0; i < Source.Columns.Count; i++)
        {
            if ((mask & (UInt128.One << i)) != 0)
            {
                yield return i;
            }
        }
    }

    // unnest($1::text[], ...) AS geo_u(p1, ..., k1, ...): values first, then the key.
    private static string Unnest(int values, int keys)
    {
        var sql = new StringBuilder("unnest(");
        for (var n = 1; n <= values + keys; n++)
        {
            sql.Append(n > 1 ? ", " : "").Append('$').Append(Number(n)).Append("::text[]");
        }

        sql.Append(") AS geo_u(");
        for (var n = 1; n <= values + keys; n++)
        {
            sql.Append(n > 1 ? ", " : "").Append(n <= values ? "p" : "k").Append(Number(n <= values ? n : n - values));
        }

        return sql.Append(')').ToString();
    }

    private void AppendSetKeyCondition(StringBuilder sql)
    {
        sql.Append(" WHERE ");
        for (var k = 0; k < KeyPositions.Length; k++)
        {
            sql.Append(k > 0 ? " AND " : "").Append("geo_r.").Append(SqlIdentifier.Quote(Replica.PrimaryKey[k]));
            sql.Append(" = geo_u.k").Append(Number(k + 1)).Append("::").Append(Types[KeyPositions[k]]);
        }
    }

    private static string Number(int n) => n.ToString(CultureInfo.InvariantCulture);

    private int IndexOfSource(string column)
    {
        for (var i = 0; i < Source.Columns.Count; i++)
        {
            if (string.Equals(Source.Columns[i], column, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }

    private string BuildInsert(UInt128 mask)
    {
        var columns = new StringBuilder();
        var values = new StringBuilder();
        var parameter = 0;
        for (var i = 0; i < Source.Columns.Count; i++)
        {
            if ((mask & (UInt128.One << i)) == 0)
            {
                continue;
            }

            if (parameter > 0)
            {
                columns.Append(", ");
                values.Append(", ");
            }

            columns.Append(SqlIdentifier.Quote(Source.Columns[i]));
            AppendParameter(values, ++parameter, Types[i]);
        }

        return $"INSERT INTO {Replica.Quoted} ({columns}) VALUES ({values})";
    }

    private string BuildUpdate(UInt128 mask)
    {
        var sql = new StringBuilder("UPDATE ").Append(Replica.Quoted).Append(" SET ");
        var parameter = 0;
        for (var i = 0; i < Source.Columns.Count; i++)
        {
            if ((mask & (UInt128.One << i)) == 0)
            {
                continue;
            }

            if (parameter > 0)
            {
                sql.Append(", ");
            }

            sql.Append(SqlIdentifier.Quote(Source.Columns[i])).Append(" = ");
            AppendParameter(sql, ++parameter, Types[i]);
        }

        AppendKeyCondition(sql, parameter);
        return sql.ToString();
    }

    private string BuildDelete()
    {
        var sql = new StringBuilder("DELETE FROM ").Append(Replica.Quoted);
        AppendKeyCondition(sql, 0);
        return sql.ToString();
    }

    private void AppendKeyCondition(StringBuilder sql, int parameter)
    {
        sql.Append(" WHERE ");
        for (var k = 0; k < KeyPositions.Length; k++)
        {
            if (k > 0)
            {
                sql.Append(" AND ");
            }

            sql.Append(SqlIdentifier.Quote(Replica.PrimaryKey[k])).Append(" = ");
            AppendParameter(sql, ++parameter, Types[KeyPositions[k]]);
        }
    }

    // The parameter travels as untyped text; the cast makes the server read it with the column type's input function.
    private static void AppendParameter(StringBuilder sql, int number, string type) =>
        sql.Append('$').Append(number.ToString(CultureInfo.InvariantCulture)).Append("::").Append(type);
}
