using Capstan.Features.GitOps;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;

namespace Capstan.Features.Tests.GitOps;

/// <summary>The list handler through the pipeline: sorting, paging and the RBAC decision.</summary>
[Collection(GitOpsHandlerCollection.Name)]
public sealed class ListFluxResourcesHandlerTests(GitOpsHandlerFixture fixture, FakeKubernetesFixture fake)
    : HandlerTest<GitOpsHandlerFixture>(fixture), IClassFixture<FakeKubernetesFixture>
{
    [Theory]
    [InlineData("name", "asc", new[] { "bitnami", "podinfo" })]
    [InlineData("name", "desc", new[] { "podinfo", "bitnami" })]
    public async Task Sorts_by_the_requested_field(string sortBy, string order, string[] names)
    {
        await Fixture.RegisterClusterAsync(fake.Api, "prod");
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        var response = await Fixture.SendAsAsync(admin, new ListFluxResources.Query("helmrepositories", null, null, null, null, null, sortBy, order, null, null));

        response.Items.Select(item => item["metadata"]!["name"]!.GetValue<string>()).ShouldBe(names);
        response.Total.ShouldBe(2);
    }

    [Fact]
    public async Task Status_sort_puts_failures_first()
    {
        await Fixture.RegisterClusterAsync(fake.Api, "prod");
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        var response = await Fixture.SendAsAsync(admin, new ListFluxResources.Query("kustomizations", null, null, 2, 0, null, "status", "asc", null, null));

        response.Items[0]["metadata"]!["name"]!.GetValue<string>().ShouldBe("infrastructure");
        response.HasMore.ShouldBeTrue();
        response.Pagination.TotalPages.ShouldBe(2);
    }

    [Fact]
    public async Task A_viewer_without_a_policy_is_refused()
    {
        await Fixture.RegisterClusterAsync(fake.Api, "prod");
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        await Should.ThrowAsync<ForbiddenException>(() => Fixture.SendAsAsync(viewer, new ListFluxResources.Query("kustomizations", null, null, null, null, null, null, null, null, null)));
    }
}
