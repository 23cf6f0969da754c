using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Capstan.Infrastructure.Clusters;
using Capstan.Infrastructure.Crypto;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Api.Tests.Clusters;

/// <summary>Seed 002's clusters by name: add, list, default, get, update, delete, share, credentials.</summary>
public sealed class NamedClusterRoutesTests(ClustersFixture fixture, FakeKubernetesFixture fake) : ClustersTest(fixture, fake)
{
    private static readonly string[] ClusterFields =
    [
        "id", "name", "displayName", "description", "server", "authType", "status", "default", "singleNode", "labels", "metadata",
        "lastCheck", "lastError", "userId", "sharedWith", "scope", "createdAt", "updatedAt",
    ];

    [Fact]
    public async Task Add_with_a_token_tests_the_connection_and_reads_metadata()
    {
        var (developer, user) = await Fixture.ClientAsAsync(BaseRole.Developer);

        var response = await developer.PostAsJsonAsync("/v1/api/clusters", new
        {
            name = "prod-eu",
            displayName = "Production EU",
            server = Api.BaseUrl,
            authType = "token",
            credentials = new { token = "token-123" },
            labels = new { env = "prod" },
        });

        var body = await response.ShouldBeJsonAsync(HttpStatusCode.Created);
        body.PropertyNames().ShouldBe(["message", "cluster", "name", "server", "status", "version"]);
        body.GetProperty("message").GetString().ShouldBe("Cluster added successfully");
        body.GetProperty("status").GetString().ShouldBe("connected");
        body.GetProperty("version").GetString().ShouldBe("v1.30.4");
        var cluster = body.GetProperty("cluster");
        cluster.PropertyNames().ShouldBe(ClusterFields);
        cluster.GetProperty("displayName").GetString().ShouldBe("Production EU");
        cluster.GetProperty("userId").GetGuid().ShouldBe(user.Id);
        cluster.GetProperty("labels").GetProperty("env").GetString().ShouldBe("prod");
        var metadata = cluster.GetProperty("metadata");
        metadata.PropertyNames().ShouldBe(["version", "platform", "provider", "region", "nodeCount", "cpuCapacity", "memoryCapacity", "storageClasses", "namespaces", "capabilities", "lastUpdated"]);
        metadata.GetProperty("nodeCount").GetInt32().ShouldBe(2);
        metadata.GetProperty("provider").GetString().ShouldBe("aws");
        metadata.GetProperty("region").GetString().ShouldBe("eu-west-1");
        metadata.GetProperty("cpuCapacity").GetString().ShouldBe("4");
        metadata.GetProperty("storageClasses").EnumerateArray().Select(item => item.GetString()).ShouldBe(["gp3"]);
        metadata.GetProperty("capabilities").EnumerateArray().Select(item => item.GetString()).ShouldContain("flux");
        Api.Requests.ShouldContain(request => request.Path == "/version" && request.Authorization == "Bearer token-123");
        response.Content.Headers.ContentLength.ShouldNotBeNull();
        (await response.Content.ReadAsStringAsync()).ShouldNotContain("token-123");
    }

    [Fact]
    public async Task Add_accepts_the_reference_docs_bearer_token_shape()
    {
        var (developer, _) = await Fixture.ClientAsAsync(BaseRole.Developer);

        var body = await (await developer.PostAsJsonAsync("/v1/api/clusters", new { name = "production", server = Api.BaseUrl, auth_type = "bearer_token", token = "eyJhbGciOi" }))
            .ShouldBeJsonAsync(HttpStatusCode.Created);

        body.GetProperty("name").GetString().ShouldBe("production");
        body.GetProperty("server").GetString().ShouldBe(Api.BaseUrl);
        body.GetProperty("cluster").GetProperty("authType").GetString().ShouldBe("token");
    }

    [Fact]
    public async Task Add_by_kubeconfig_uses_its_server()
    {
        var (developer, _) = await Fixture.ClientAsAsync(BaseRole.Developer);

        var body = await (await developer.PostAsJsonAsync("/v1/api/clusters", new { name = "from-kubeconfig", authType = "kubeconfig", credentials = new { kubeconfig = Api.Kubeconfig() } }))
            .ShouldBeJsonAsync(HttpStatusCode.Created);

        body.GetProperty("server").GetString().ShouldBe(Api.BaseUrl);
        body.GetProperty("status").GetString().ShouldBe("connected");
    }

    [Fact]
    public async Task Add_in_single_node_mode_removes_the_control_plane_taint()
    {
        await using var api = await FakeKubernetesApi.StartAsync(new FakeKubernetesOptions { SeedFixtures = false });
        api.Store.Put(JsonNode.Parse("""
            {"apiVersion":"v1","kind":"Node","metadata":{"name":"solo","labels":{"node-role.kubernetes.io/control-plane":""}},
             "spec":{"taints":[{"key":"node-role.kubernetes.io/control-plane","effect":"NoSchedule"}]}}
            """)!.AsObject());
        var (developer, _) = await Fixture.ClientAsAsync(BaseRole.Developer);

        (await developer.PostAsJsonAsync("/v1/api/clusters", new { name = "solo", server = api.BaseUrl, authType = "token", credentials = new { token = "t" }, singleNode = true }))
            .StatusCode.ShouldBe(HttpStatusCode.Created);

        var patch = api.RequestsTo("PATCH", "/api/v1/nodes/solo").Single();
        patch.ContentType.ShouldBe("application/merge-patch+json");
        patch.Body.ShouldBe("""{"spec":{"taints":null}}""");
        api.Store.Get("v1", "Node", null, "solo")!["spec"]!["taints"].ShouldBeNull();
    }

    [Theory]
    [InlineData("""{"server":"https://k","authType":"token","credentials":{"token":"t"}}""", "name")]
    [InlineData("""{"name":"x","authType":"token","credentials":{"token":"t"}}""", "server")]
    [InlineData("""{"name":"x","server":"ftp://k","authType":"token","credentials":{"token":"t"}}""", "server")]
    [InlineData("""{"name":"x","server":"https://k","credentials":{"token":"t"}}""", "authType")]
    [InlineData("""{"name":"x","server":"https://k","authType":"magic"}""", "authType")]
    [InlineData("""{"name":"x","server":"https://k","authType":"token"}""", "credentials")]
    [InlineData("""{"name":"x","server":"https://k","authType":"certificate","credentials":{"clientCertData":"abc"}}""", "credentials")]
    [InlineData("""{"name":"x","server":"https://k","authType":"oidc","credentials":{"oidcClientId":"c"}}""", "credentials")]
    [InlineData("""{"name":"x","server":"https://k","authType":"token","credentials":{"token":"t","caData":"%%%"}}""", "credentials")]
    public async Task Add_validates_each_field(string json, string field)
    {
        var (developer, _) = await Fixture.ClientAsAsync(BaseRole.Developer);

        var response = await developer.PostAsync("/v1/api/clusters", new StringContent(json, Encoding.UTF8, "application/json"));

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Add_conflicts_on_a_taken_name_and_needs_a_developer()
    {
        var (developer, _) = await Fixture.ClientAsAsync(BaseRole.Developer);
        var (viewer, _) = await Fixture.ClientAsAsync(BaseRole.Viewer);
        await Fixture.RegisterClusterAsync(Api, "taken");
        var body = new { name = "taken", server = Api.BaseUrl, authType = "token", credentials = new { token = "t" } };

        await (await developer.PostAsJsonAsync("/v1/api/clusters", body)).ShouldBeErrorAsync(HttpStatusCode.Conflict);
        await (await viewer.PostAsJsonAsync("/v1/api/clusters", body)).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await Client.PostAsJsonAsync("/v1/api/clusters", body)).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task List_returns_visible_clusters_and_the_default_id()
    {
        var (developer, user) = await Fixture.ClientAsAsync(BaseRole.Developer);
        var mine = await Fixture.RegisterClusterAsync(Api, "mine", user.Id, scope: "user", isDefaultFor: true);
        await Fixture.RegisterClusterAsync(Api, "someone-elses", (await Fixture.CreateUserAsync()).Id, scope: "user");

        var body = await (await developer.GetAsync("/v1/api/clusters")).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["clusters", "default", "total"]);
        body.GetProperty("default").GetString().ShouldBe(mine.ToString());
        body.GetProperty("clusters").EnumerateArray().Single().GetProperty("default").GetBoolean().ShouldBeTrue();
    }

    [Fact]
    public async Task Default_is_404_until_set_then_returned()
    {
        var (developer, user) = await Fixture.ClientAsAsync(BaseRole.Developer);
        await Fixture.RegisterClusterAsync(Api, "first", user.Id, scope: "user");

        (await (await developer.GetAsync("/v1/api/clusters/default")).ShouldBeErrorAsync(HttpStatusCode.NotFound)).GetProperty("message").GetString().ShouldBe("No default cluster set");
        var set = await (await developer.PutAsync("/v1/api/clusters/first/default", null)).ShouldBeJsonAsync();
        var got = await (await developer.GetAsync("/v1/api/clusters/default")).ShouldBeJsonAsync();

        set.GetProperty("message").GetString().ShouldBe("Default cluster set successfully");
        got.GetProperty("name").GetString().ShouldBe("first");
        got.GetProperty("default").GetBoolean().ShouldBeTrue();
        await (await developer.PutAsync("/v1/api/clusters/nope/default", null)).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await Client.GetAsync("/v1/api/clusters/default")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Get_by_name_or_id_hides_other_users_clusters()
    {
        var (developer, user) = await Fixture.ClientAsAsync(BaseRole.Developer);
        var id = await Fixture.RegisterClusterAsync(Api, "Mine", user.Id, scope: "user");
        await Fixture.RegisterClusterAsync(Api, "hidden", (await Fixture.CreateUserAsync()).Id, scope: "user");

        (await (await developer.GetAsync("/v1/api/clusters/mine")).ShouldBeJsonAsync()).PropertyNames().ShouldBe(ClusterFields);
        (await (await developer.GetAsync($"/v1/api/clusters/{id}")).ShouldBeJsonAsync()).GetProperty("name").GetString().ShouldBe("Mine");
        (await (await developer.GetAsync("/v1/api/clusters/hidden")).ShouldBeErrorAsync(HttpStatusCode.NotFound)).GetProperty("message").GetString().ShouldBe("Cluster not found");
    }

    [Fact]
    public async Task Update_changes_fields_and_only_the_owner_may()
    {
        var (owner, ownerUser) = await Fixture.ClientAsAsync(BaseRole.Developer);
        var (other, otherUser) = await Fixture.ClientAsAsync(BaseRole.Developer);
        var id = await Fixture.RegisterClusterAsync(Api, "editable", ownerUser.Id, scope: "user");
        await Fixture.ExecuteAsync("INSERT INTO clusters.cluster_shares (cluster_id, user_id, role) VALUES (@Id, @User, 'editor')", new { Id = id, User = otherUser.Id });

        var body = await (await owner.PutAsJsonAsync("/v1/api/clusters/editable", new { displayName = "Edited", description = "", labels = new { team = "a" } })).ShouldBeJsonAsync();

        body.GetProperty("message").GetString().ShouldBe("Cluster updated successfully");
        body.GetProperty("cluster").GetProperty("displayName").GetString().ShouldBe("Edited");
        body.GetProperty("cluster").GetProperty("labels").GetProperty("team").GetString().ShouldBe("a");
        await (await other.PutAsJsonAsync("/v1/api/clusters/editable", new { displayName = "Mine now" })).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await owner.PutAsJsonAsync("/v1/api/clusters/editable", new { server = "gopher://x" })).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Update_refuses_a_connection_the_cluster_rejects_and_keeps_the_old_one()
    {
        await using var secured = await FakeKubernetesApi.StartAsync(new FakeKubernetesOptions { Token = "right", SeedFixtures = false });
        var (owner, user) = await Fixture.ClientAsAsync(BaseRole.Developer);
        await Fixture.RegisterClusterAsync(secured, "secured", user.Id, scope: "user", token: "right");
        var before = await Fixture.ScalarAsync<byte[]>("SELECT credentials FROM clusters.clusters");

        var refused = await owner.PutAsJsonAsync("/v1/api/clusters/secured", new { server = secured.BaseUrl, authType = "token", credentials = new { token = "wrong" } });

        (await refused.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("message").GetString()!.ShouldContain("nothing was changed");
        (await Fixture.ScalarAsync<byte[]>("SELECT credentials FROM clusters.clusters")).ShouldBe(before);
    }

    [Fact]
    public async Task Credentials_are_replaced_only_when_the_cluster_accepts_them()
    {
        await using var secured = await FakeKubernetesApi.StartAsync(new FakeKubernetesOptions { Token = "second", SeedFixtures = false });
        var (owner, user) = await Fixture.ClientAsAsync(BaseRole.Developer);
        var (stranger, _) = await Fixture.ClientAsAsync(BaseRole.Developer);
        var cipher = Fixture.Services.GetRequiredService<EnvelopeCipher>();
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            "INSERT INTO clusters.clusters (id, name, server, auth_type, credentials, scope, owner_id) VALUES (@Id, 'rotating', @Server, 'token', @Credentials, 'user', @Owner)",
            new { Id = id, Server = secured.BaseUrl, Credentials = new ClusterCredentials { Token = "first" }.Seal(cipher, id), Owner = user.Id });

        var wrong = await owner.PutAsJsonAsync("/v1/api/clusters/rotating/credentials", new { credentials = new { token = "nope" } });
        var right = await owner.PutAsJsonAsync("/v1/api/clusters/rotating/credentials", new { credentials = new { token = "second" } });

        await wrong.ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        (await right.ShouldBeJsonAsync()).GetProperty("message").GetString().ShouldBe("Credentials updated successfully");
        (await Fixture.ScalarAsync<long>("SELECT credentials_version FROM clusters.clusters")).ShouldBe(2);
        (await Fixture.ScalarAsync<string>("SELECT status FROM clusters.clusters")).ShouldBe("connected");
        await (await owner.PutAsJsonAsync("/v1/api/clusters/rotating/credentials", new { })).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await stranger.PutAsJsonAsync("/v1/api/clusters/rotating/credentials", new { credentials = new { token = "second" } })).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Delete_is_the_owners()
    {
        var (owner, ownerUser) = await Fixture.ClientAsAsync(BaseRole.Developer);
        var (shared, sharedUser) = await Fixture.ClientAsAsync(BaseRole.Developer);
        var id = await Fixture.RegisterClusterAsync(Api, "deletable", ownerUser.Id, scope: "user");
        await Fixture.ExecuteAsync("INSERT INTO clusters.cluster_shares (cluster_id, user_id, role) VALUES (@Id, @User, 'admin')", new { Id = id, User = sharedUser.Id });

        await (await shared.DeleteAsync("/v1/api/clusters/deletable")).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        var body = await (await owner.DeleteAsync("/v1/api/clusters/deletable")).ShouldBeJsonAsync();

        body.GetProperty("message").GetString().ShouldBe("Cluster removed successfully");
        body.GetProperty("cluster").GetString().ShouldBe("deletable");
        await (await owner.DeleteAsync("/v1/api/clusters/deletable")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Share_gives_another_user_the_cluster()
    {
        var (owner, ownerUser) = await Fixture.ClientAsAsync(BaseRole.Developer);
        var (target, targetUser) = await Fixture.ClientAsAsync(BaseRole.Viewer);
        await Fixture.RegisterClusterAsync(Api, "team", ownerUser.Id, scope: "user");
        await (await target.GetAsync("/v1/api/clusters/team")).ShouldBeErrorAsync(HttpStatusCode.NotFound);

        var body = await (await owner.PostAsJsonAsync("/v1/api/clusters/team/share", new { targetUserId = targetUser.Id, role = "viewer", namespaces = new[] { "apps" } })).ShouldBeJsonAsync();

        body.GetProperty("message").GetString().ShouldBe("Cluster shared successfully");
        body.GetProperty("cluster").GetProperty("sharedWith").EnumerateArray().Single().GetGuid().ShouldBe(targetUser.Id);
        var seen = await (await target.GetAsync("/v1/api/clusters/team")).ShouldBeJsonAsync();
        seen.GetProperty("sharedWith").GetArrayLength().ShouldBe(0);
        (await Fixture.ScalarAsync<string>("SELECT action FROM clusters.connection_logs")).ShouldBe("access_granted");
    }

    [Theory]
    [InlineData("""{"targetUserId":"abc","role":"viewer"}""", HttpStatusCode.BadRequest)]
    [InlineData("""{"role":"viewer"}""", HttpStatusCode.BadRequest)]
    [InlineData("""{"targetUserId":"0195e6a2-0000-7000-8000-000000000000","role":"god"}""", HttpStatusCode.BadRequest)]
    [InlineData("""{"targetUserId":"0195e6a2-0000-7000-8000-000000000000","role":"viewer"}""", HttpStatusCode.NotFound)]
    public async Task Share_validates_the_target(string json, HttpStatusCode status)
    {
        var (owner, ownerUser) = await Fixture.ClientAsAsync(BaseRole.Developer);
        await Fixture.RegisterClusterAsync(Api, "team", ownerUser.Id, scope: "user");

        var response = await owner.PostAsync("/v1/api/clusters/team/share", new StringContent(json, Encoding.UTF8, "application/json"));

        await response.ShouldBeErrorAsync(status);
    }

    [Fact]
    public async Task Share_is_the_owners()
    {
        var (owner, ownerUser) = await Fixture.ClientAsAsync(BaseRole.Developer);
        var (other, otherUser) = await Fixture.ClientAsAsync(BaseRole.Developer);
        var third = await Fixture.CreateUserAsync();
        var id = await Fixture.RegisterClusterAsync(Api, "team", ownerUser.Id, scope: "user");
        await Fixture.ExecuteAsync("INSERT INTO clusters.cluster_shares (cluster_id, user_id, role) VALUES (@Id, @User, 'viewer')", new { Id = id, User = otherUser.Id });

        await (await other.PostAsJsonAsync("/v1/api/clusters/team/share", new { targetUserId = third.Id, role = "viewer" })).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        (await owner.PostAsJsonAsync("/v1/api/clusters/team/share", new { targetUserId = ownerUser.Id, role = "viewer" })).StatusCode.ShouldBe(HttpStatusCode.BadRequest);
    }
}
