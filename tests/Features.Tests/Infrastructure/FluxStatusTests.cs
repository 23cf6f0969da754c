using Capstan.Infrastructure.Flux;
using Capstan.Infrastructure.Kubernetes;

namespace Capstan.Features.Tests.Infrastructure;

public sealed class FluxStatusTests
{
    [Theory]
    [InlineData("spec: {suspend: true}\nstatus: {conditions: [{type: Ready, status: 'True'}]}", "suspended")]
    [InlineData("spec: {}", "unknown")]
    [InlineData("status: {conditions: [{type: Stalled, status: 'True'}, {type: Ready, status: 'True'}]}", "failed")]
    [InlineData("metadata: {generation: 3}\nstatus: {observedGeneration: 2, conditions: [{type: Ready, status: 'True'}]}", "progressing")]
    [InlineData("status: {conditions: [{type: Ready, status: 'True'}]}", "healthy")]
    [InlineData("status: {conditions: [{type: Ready, status: 'False', reason: DependencyNotReady}]}", "progressing")]
    [InlineData("status: {conditions: [{type: Ready, status: 'False', reason: BuildFailed}]}", "failed")]
    [InlineData("status: {conditions: [{type: Ready, status: Unknown}]}", "progressing")]
    [InlineData("status: {conditions: [{type: Reconciling, status: 'True'}]}", "progressing")]
    [InlineData("status: {conditions: [{type: Valid, status: 'True'}]}", "healthy")]
    [InlineData("status: {conditions: [{type: Other, status: 'True'}]}", "unknown")]
    public void Health_follows_gyres_rules_in_order(string yaml, string health)
    {
        FluxStatus.Health(YamlJson.ParseObject(yaml)).ShouldBe(health);
    }

    [Theory]
    [InlineData("status: {artifact: {revision: main@sha1:abc}}", "main@sha1:abc")]
    [InlineData("status: {lastAppliedRevision: a, lastAttemptedRevision: b}", "a")]
    [InlineData("status: {lastAttemptedRevision: 6.7.1}", "6.7.1")]
    [InlineData("status: {latestRef: {tag: 1.2.3}}", "1.2.3")]
    [InlineData("status: {}", null)]
    public void Revision_is_read_from_the_field_each_kind_uses(string yaml, string? revision)
    {
        FluxStatus.Revision(YamlJson.ParseObject(yaml)).ShouldBe(revision);
    }

    [Fact]
    public void Types_resolve_by_plural_or_kind()
    {
        FluxResourceTypes.Resolve("Kustomization")!.Plural.ShouldBe("kustomizations");
        FluxResourceTypes.Resolve("helmreleases")!.ApiVersion.ShouldBe("helm.toolkit.fluxcd.io/v2");
        FluxResourceTypes.Resolve("alerts")!.Version.ShouldBe("v1beta3");
        FluxResourceTypes.Resolve("pods").ShouldBeNull();
        FluxResourceTypes.All.Count.ShouldBe(13);
    }
}
