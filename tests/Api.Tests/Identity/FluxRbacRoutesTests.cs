using System.Net;
using System.Net.Http.Json;
using System.Text;
using Capstan.Api.Tests.GitOps;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;

namespace Capstan.Api.Tests.Identity;

/// <summary><c>GET/POST /api/v1/rbac/policies</c> and <c>POST /api/v1/rbac/bindings</c>.</summary>
public sealed class FluxRbacRoutesTests(GitOpsFixture fixture, FakeKubernetesFixture fake) : GitOpsTest(fixture, fake)
{
    [Fact]
    public async Task Policies_list_the_defaults_with_their_bindings()
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);
        var viewer = await Fixture.CreateUserAsync();
        await Fixture.ExecuteAsync(
            "INSERT INTO identity.flux_bindings (id, user_id, policy_id, cluster) VALUES (gen_random_uuid(), @User, '00000000-0000-0000-0000-000000000001', '')", new { User = viewer.Id });

        var body = await (await admin.GetAsync("/api/v1/rbac/policies")).ShouldBeJsonAsync();

        body.GetProperty("total").GetInt32().ShouldBe(3);
        var first = body.GetProperty("policies")[0];
        first.PropertyNames().ShouldBe(
            ["id", "name", "description", "role", "rules", "action", "resourceType", "namespacePattern", "clusterId", "isActive", "isSystem", "bindings", "createdAt", "updatedAt"]);
        body.GetProperty("policies").EnumerateArray().Select(policy => policy.GetProperty("name").GetString())
            .ShouldBe(["Editor: Read All Resources", "Editor: Write All Resources", "Viewer: Read All Resources"]);
        var viewerPolicy = body.GetProperty("policies")[2];
        viewerPolicy.GetProperty("action").GetString().ShouldBe("read");
        viewerPolicy.GetProperty("rules")[0].PropertyNames().ShouldBe(["resources", "namespaces", "actions", "clusters"]);
        viewerPolicy.GetProperty("bindings").EnumerateArray().Single().GetProperty("username").GetString().ShouldBe(viewer.Username);
    }

    [Fact]
    public async Task Policies_need_admin()
    {
        var (operatorClient, _) = await Fixture.ClientAsAsync(BaseRole.Operator);

        await (await operatorClient.GetAsync("/api/v1/rbac/policies")).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await Client.GetAsync("/api/v1/rbac/policies")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        await (await operatorClient.PostAsJsonAsync("/api/v1/rbac/policies", new { name = "x" })).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await operatorClient.PostAsJsonAsync("/api/v1/rbac/bindings", new { })).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await Client.PostAsJsonAsync("/api/v1/rbac/bindings", new { })).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Create_takes_seed_001s_rules_and_normalises_them()
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);
        var cluster = await Fixture.RegisterClusterAsync(Api, "prod");

        var response = await admin.PostAsJsonAsync("/api/v1/rbac/policies", new
        {
            name = "developer-policy",
            rules = new[] { new { resources = new[] { "kustomizations", "HelmRelease" }, namespaces = new[] { "default", "staging-*" }, actions = new[] { "view", "edit" }, clusters = new[] { "prod" } } },
        });

        var body = await response.ShouldBeJsonAsync(HttpStatusCode.Created);
        body.GetProperty("role").GetString().ShouldBe("viewer");
        var rule = body.GetProperty("rules")[0];
        rule.GetProperty("resources").EnumerateArray().Select(item => item.GetString()).ShouldBe(["Kustomization", "HelmRelease"]);
        rule.GetProperty("actions").EnumerateArray().Select(item => item.GetString()).ShouldBe(["read", "write"]);
        rule.GetProperty("clusters").EnumerateArray().Single().GetString().ShouldBe(cluster.ToString());
        body.GetProperty("action").ValueKind.ShouldBe(System.Text.Json.JsonValueKind.Null);
        response.Headers.Location!.ToString().ShouldBe($"/api/v1/rbac/policies/{body.GetProperty("id").GetGuid()}");
        (await Fixture.ScalarAsync<string>("SELECT action FROM identity.audit_log WHERE action LIKE 'rbac.%'")).ShouldBe("rbac.policy.create");
    }

    [Fact]
    public async Task Create_takes_gyres_single_rule()
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);

        var body = await (await admin.PostAsJsonAsync("/api/v1/rbac/policies", new { name = "apps writers", role = "editor", action = "write", resourceType = "gitrepositories", namespacePattern = "apps" }))
            .ShouldBeJsonAsync(HttpStatusCode.Created);

        body.GetProperty("role").GetString().ShouldBe("operator");
        body.GetProperty("action").GetString().ShouldBe("write");
        body.GetProperty("resourceType").GetString().ShouldBe("GitRepository");
        body.GetProperty("namespacePattern").GetString().ShouldBe("apps");
    }

    [Theory]
    [InlineData("""{"rules":[{"actions":["read"]}]}""", "name")]
    [InlineData("""{"name":"ab","rules":[{"actions":["read"]}]}""", "name")]
    [InlineData("""{"name":"abc"}""", "rules")]
    [InlineData("""{"name":"abc","rules":[{"resources":["kustomizations"]}]}""", "rules[0].actions")]
    [InlineData("""{"name":"abc","rules":[{"actions":["fly"]}]}""", "rules[0].actions[0]")]
    [InlineData("""{"name":"abc","rules":[{"actions":["read"],"resources":["pods"]}]}""", "rules[0].resources[0]")]
    [InlineData("""{"name":"abc","rules":[{"actions":["read"],"namespaces":["Bad_NS"]}]}""", "rules[0].namespaces[0]")]
    [InlineData("""{"name":"abc","rules":[{"actions":["read"],"clusters":["nowhere"]}]}""", "rules[0].clusters")]
    [InlineData("""{"name":"abc","role":"king","action":"read"}""", "role")]
    public async Task Create_validates_each_field(string json, string field)
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);

        var response = await admin.PostAsync("/api/v1/rbac/policies", new StringContent(json, Encoding.UTF8, "application/json"));

        var details = (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details");
        details.TryGetProperty(field, out _).ShouldBeTrue(details.ToString());
    }

    [Fact]
    public async Task Create_refuses_a_taken_name()
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);

        await (await admin.PostAsJsonAsync("/api/v1/rbac/policies", new { name = "viewer: read all resources", action = "read" })).ShouldBeErrorAsync(HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task Bindings_bind_a_policy_on_a_cluster_or_everywhere()
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);
        var user = await Fixture.CreateUserAsync(BaseRole.Operator);
        var cluster = await Fixture.RegisterClusterAsync(Api, "default");

        var onCluster = await admin.PostAsJsonAsync("/api/v1/rbac/bindings", new { userId = user.Id, policyId = "00000000-0000-0000-0000-000000000003", cluster = "default" });
        var everywhere = await admin.PostAsJsonAsync("/api/v1/rbac/bindings", new { userId = user.Id, policyId = "00000000-0000-0000-0000-000000000003" });
        var again = await admin.PostAsJsonAsync("/api/v1/rbac/bindings", new { userId = user.Id, policyId = "00000000-0000-0000-0000-000000000003", cluster = cluster.ToString() });

        var body = await onCluster.ShouldBeJsonAsync(HttpStatusCode.Created);
        body.PropertyNames().ShouldBe(["id", "userId", "policyId", "cluster", "clusterName", "createdAt"]);
        body.GetProperty("cluster").GetString().ShouldBe(cluster.ToString());
        body.GetProperty("clusterName").GetString().ShouldBe("default");
        (await everywhere.ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("cluster").GetString().ShouldBe(string.Empty);
        await again.ShouldBeErrorAsync(HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task Bindings_answer_404_and_409_and_400()
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        const string EditorWrite = "00000000-0000-0000-0000-000000000003";

        await (await admin.PostAsJsonAsync("/api/v1/rbac/bindings", new { userId = Guid.NewGuid(), policyId = EditorWrite })).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await admin.PostAsJsonAsync("/api/v1/rbac/bindings", new { userId = viewer.Id, policyId = Guid.NewGuid() })).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await admin.PostAsJsonAsync("/api/v1/rbac/bindings", new { userId = viewer.Id, policyId = "00000000-0000-0000-0000-000000000001", cluster = "nowhere" })).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await admin.PostAsJsonAsync("/api/v1/rbac/bindings", new { userId = viewer.Id, policyId = EditorWrite })).ShouldBeErrorAsync(HttpStatusCode.Conflict);
        var invalid = await admin.PostAsJsonAsync("/api/v1/rbac/bindings", new { userId = "x", policyId = "y" });
        var details = (await invalid.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details");
        details.TryGetProperty("userId", out _).ShouldBeTrue();
        details.TryGetProperty("policyId", out _).ShouldBeTrue();
    }
}
