using Geo.Deploy.Tests.Terraform;

namespace Geo.Deploy.Tests;

[Collection(TerraformDefinition.Name)]
public sealed class TerraformSyntaxTests(TerraformFixture terraform)
{
    [Fact]
    public void EveryTerraformFile_Parses()
    {
        Assert.True(terraform.LoadError is null, terraform.LoadError);
        Assert.True(terraform.Tree.Modules.Count > 0, $"{terraform.Tree.Root} holds no .tf file");
    }
}
