namespace Geo.Deploy.Tests.Terraform;

/// <summary>terraform/ parsed once for every test class of the collection; a parse failure is kept, not thrown, so that each test reports it.</summary>
public sealed class TerraformFixture : IAsyncLifetime
{
    private TerraformTree? _tree;

    /// <summary>Why terraform/ could not be parsed (every diagnostic as file:line:col), or null.</summary>
    public string? LoadError { get; private set; }

    internal TerraformTree Tree => _tree ?? throw new InvalidOperationException($"terraform/ was not parsed:{Environment.NewLine}{LoadError}");

    public async Task InitializeAsync()
    {
        try
        {
            _tree = await TerraformTree.LoadAsync(Repository.Terraform);
        }
        catch (InvalidOperationException e)
        {
            LoadError = e.Message;
        }
    }

    public Task DisposeAsync() => Task.CompletedTask;
}

[CollectionDefinition(Name)]
public sealed class TerraformDefinition : ICollectionFixture<TerraformFixture>
{
    public const string Name = "terraform";
}
