using System.Diagnostics;
using System.Text;

namespace Geo.Deploy.Tests;

/// <summary>Runs a program to completion with its output and error read apart, within a deadline.</summary>
internal static class ChildProcess
{
    public static async Task<ChildProcessResult> RunAsync(string fileName, IEnumerable<string> arguments, string workingDirectory, TimeSpan timeout,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        // A developer's GEO_* settings would override the file under test (environment variables win over it).
        foreach (var name in info.Environment.Keys.Where(k => k.StartsWith("GEO_", StringComparison.Ordinal)).ToList())
        {
            info.Environment.Remove(name);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        using var process = new Process { StartInfo = info };
        var output = new StringBuilder();
        var error = new StringBuilder();
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(error, e.Data);
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            throw new TimeoutException($"'{fileName} {string.Join(' ', info.ArgumentList)}' did not finish within {timeout}:{Environment.NewLine}{Text(output)}{Text(error)}");
        }

        // WaitForExitAsync returns once both streams reached their end, so the buffers are complete.
        return new ChildProcessResult(process.ExitCode, Text(output), Text(error));
    }

    private static void Append(StringBuilder buffer, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (buffer)
        {
            buffer.AppendLine(line);
        }
    }

    private static string Text(StringBuilder buffer)
    {
        lock (buffer)
        {
            return buffer.ToString();
        }
    }
}

internal readonly record struct ChildProcessResult(int ExitCode, string Output, string Error)
{
    public override string ToString() =>
        $"exit code {ExitCode}{Environment.NewLine}stdout:{Environment.NewLine}{Output.TrimEnd()}{Environment.NewLine}stderr:{Environment.NewLine}{Error.TrimEnd()}";
}
