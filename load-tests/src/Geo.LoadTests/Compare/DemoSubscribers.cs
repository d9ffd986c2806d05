using System.Globalization;
using System.Security.Cryptography;

namespace Geo.LoadTests.Compare;

/// <summary>
/// The subscribers to give FreeRADIUS: the local stack's demo credentials (its <c>geo_&lt;tenant&gt;_&lt;region&gt;.csv</c>),
/// so both servers know the same usernames and passwords; generated in the same shape (geoctl's demo data:
/// <c>acme-a-000001</c>, 12 characters of password) for as many as the file lacks.
/// </summary>
internal static class DemoSubscribers
{
    private const string PasswordAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

    public static List<(string Username, string Password)> Load(string csv, string tenant, string region, int count, TextWriter output)
    {
        var subscribers = new List<(string Username, string Password)>(count);
        if (File.Exists(csv))
        {
            subscribers.AddRange(File.ReadLines(csv).Skip(1).Take(count)
                .Select(line => line.Split(','))
                .Select(parts => (parts[0], parts[1])));
        }

        var fromFile = subscribers.Count;
        for (var index = fromFile + 1; subscribers.Count < count; index++)
        {
            subscribers.Add(($"{tenant}-{region}-{index.ToString("D6", CultureInfo.InvariantCulture)}", RandomNumberGenerator.GetString(PasswordAlphabet, 12)));
        }

        output.WriteLine(fromFile == count
            ? $"  subscribers: {count:N0} from {csv}"
            : $"  subscribers: {fromFile:N0} from {csv}, {count - fromFile:N0} more generated in the same shape (only FreeRADIUS knows those; the load names none of them)");
        return subscribers;
    }
}
