namespace Geo.Deploy.Tests;

/// <summary>A check over every module reports every problem it finds at once, one per line, each naming its file.</summary>
internal static class Problems
{
    public static void AssertNone(IEnumerable<string> problems, string check)
    {
        var found = problems.Distinct(StringComparer.Ordinal).ToList();
        Assert.True(found.Count == 0, $"{check}: {found.Count} problem(s){Environment.NewLine}{string.Join(Environment.NewLine, found)}");
    }
}
