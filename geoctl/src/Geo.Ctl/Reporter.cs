using System.Diagnostics;

namespace Geo.Ctl;

/// <summary>Progress lines for long operator commands: each step says what it does and how long it took.</summary>
internal sealed class Reporter(TextWriter output) : Provisioning.IProvisioningProgress
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Lock _gate = new();

    public TextWriter Output => output;

    /// <summary>Runs a step, printing its name before and its outcome (with timing) after.</summary>
    public async Task<T> StepAsync<T>(string name, Func<Task<T>> action, Func<T, string>? describe = null)
    {
        var started = _clock.Elapsed;
        Line($"  ... {name}");
        var result = await action();
        var detail = describe?.Invoke(result);
        Line($"  ok  {name}{(string.IsNullOrEmpty(detail) ? "" : $": {detail}")} ({(_clock.Elapsed - started).TotalSeconds:F1} s)");
        return result;
    }

    public async Task StepAsync(string name, Func<Task> step, Func<string>? describe = null) =>
        await StepAsync(name, async () => { await step(); return 0; }, describe is null ? null : _ => describe());

    public void Line(string text)
    {
        lock (_gate)
        {
            output.WriteLine(text);
            output.Flush();
        }
    }
}
