using Microsoft.Extensions.Options;

namespace Geo.Router.Hosting;

/// <summary>Refuses to start with a configuration that cannot work, naming every problem at once.</summary>
internal sealed class RouterOptionsValidator(bool storeInjected) : IValidateOptions<RouterOptions>
{
    public ValidateOptionsResult Validate(string? name, RouterOptions options)
    {
        // An injected store (tests, benchmarks) makes the store settings irrelevant.
        var errors = options.Validate().Where(e => !storeInjected || !e.StartsWith("Router:Directory", StringComparison.Ordinal)).ToList();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
