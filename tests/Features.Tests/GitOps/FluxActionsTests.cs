using System.Text.Json.Nodes;
using Capstan.Infrastructure.Flux;

namespace Capstan.Features.Tests.GitOps;

/// <summary>The patches behind the Flux actions.</summary>
public sealed class FluxActionsTests
{
    private static readonly DateTimeOffset Now = new(2024, 11, 20, 9, 12, 44, 123, TimeSpan.Zero);

    [Fact]
    public void Reconcile_is_a_merge_patch_of_the_requested_at_annotation()
    {
        var patch = FluxActions.ReconcilePatch(Now);

        patch.ContentType.ShouldBe("application/merge-patch+json");
        patch.Body.ShouldBe("""{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":"2024-11-20T09:12:44.123Z"}}}""");
    }

    [Theory]
    [InlineData(true, """[{"op":"add","path":"/spec/suspend","value":true}]""")]
    [InlineData(false, """[{"op":"add","path":"/spec/suspend","value":false}]""")]
    public void Suspend_and_resume_are_json_patches(bool suspend, string body)
    {
        var patch = FluxActions.SuspendPatch(suspend);

        patch.ContentType.ShouldBe("application/json-patch+json");
        patch.Body.ShouldBe(body);
    }

    [Fact]
    public void Rollback_restores_the_snapshot_and_nulls_fields_added_since_at_any_depth()
    {
        var snapshot = JsonNode.Parse("""{"interval":"5m","chart":{"spec":{"version":"6.6.0"}},"values":{"replicaCount":1}}""")!.AsObject();
        var live = JsonNode.Parse("""{"interval":"10m","suspend":true,"chart":{"spec":{"version":"6.7.1","reconcileStrategy":"ChartVersion"}},"values":{"replicaCount":2,"ingress":{"enabled":true}}}""")!.AsObject();

        var patch = FluxActions.RollbackPatch(snapshot, live, "6.7.1", Now);

        patch["spec"]!.ToJsonString().ShouldBe("""{"interval":"5m","chart":{"spec":{"version":"6.6.0","reconcileStrategy":null}},"values":{"replicaCount":1,"ingress":null},"suspend":null}""");
        patch["metadata"]!["annotations"]!.ToJsonString().ShouldBe(
            """{"reconcile.fluxcd.io/requestedAt":"2024-11-20T09:12:44.123Z","gyre.io/rolledBackFrom":"6.7.1","gyre.io/rolledBackAt":"2024-11-20T09:12:44.123Z"}""");
        snapshot["suspend"].ShouldBeNull("the snapshot itself is not changed");
        snapshot.ContainsKey("suspend").ShouldBeFalse();
    }
}
