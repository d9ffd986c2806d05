using System.CommandLine;

namespace Geo.LoadTests.Compare;

/// <summary><c>geo-load compare</c>: Geo against another server, the same load on the same machine.</summary>
internal static class CompareCommand
{
    public static Command Create() => new("compare", "Measure another RADIUS server and Geo with the same load on the same machine and print both")
    {
        FreeRadiusComparison.Create(),
    };
}
