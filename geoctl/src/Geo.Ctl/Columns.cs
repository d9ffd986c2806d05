namespace Geo.Ctl;

/// <summary>Rows of text as aligned columns: each as wide as its widest cell, the last one left ragged.</summary>
internal static class Columns
{
    public static IEnumerable<string> Align(IReadOnlyList<string[]> rows)
    {
        var widths = new int[rows.Max(r => r.Length)];
        foreach (var row in rows)
        {
            for (var i = 0; i < row.Length; i++)
            {
                widths[i] = Math.Max(widths[i], row[i].Length);
            }
        }

        return rows.Select(row => string.Join("  ", row.Select((cell, i) => i == row.Length - 1 ? cell : cell.PadRight(widths[i]))).TrimEnd());
    }
}
