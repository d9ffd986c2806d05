namespace Geo.Provisioning;

/// <summary>Where a lifecycle command reports its steps: a console (geoctl) or the response of an admin call.</summary>
public interface IProvisioningProgress
{
    /// <summary>Runs one step, reporting its name before and its outcome after.</summary>
    Task<T> StepAsync<T>(string name, Func<Task<T>> action, Func<T, string>? describe = null);

    /// <summary>Reports a line that is not a step (a warning, a result).</summary>
    void Line(string text);
}

/// <summary>Steps without a result.</summary>
public static class ProvisioningProgressExtensions
{
    /// <summary>Runs a step that returns nothing.</summary>
    public static Task StepAsync(this IProvisioningProgress progress, string name, Func<Task> step)
    {
        ArgumentNullException.ThrowIfNull(progress);
        ArgumentNullException.ThrowIfNull(step);
        return progress.StepAsync(name, async () =>
        {
            await step();
            return true;
        });
    }
}

/// <summary>Collects the steps as lines (for an HTTP response), each with its outcome.</summary>
public sealed class CollectedProgress : IProvisioningProgress
{
    private readonly List<string> _lines = [];
    private readonly Lock _gate = new();

    /// <summary>The lines so far.</summary>
    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_gate)
            {
                return [.. _lines];
            }
        }
    }

    /// <inheritdoc />
    public async Task<T> StepAsync<T>(string name, Func<Task<T>> action, Func<T, string>? describe = null)
    {
        ArgumentNullException.ThrowIfNull(action);
        var result = await action();
        var detail = describe?.Invoke(result);
        Line(string.IsNullOrEmpty(detail) ? name : $"{name}: {detail}");
        return result;
    }

    /// <inheritdoc />
    public void Line(string text)
    {
        lock (_gate)
        {
            _lines.Add(text);
        }
    }
}
