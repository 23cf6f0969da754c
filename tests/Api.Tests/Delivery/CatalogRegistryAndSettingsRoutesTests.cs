using System.Net;
using System.Net.Http.Json;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;

namespace Capstan.Api.Tests.Delivery;

/// <summary>Templates, plugins, registries (with the <c>/v2/</c> connection test), dashboard, global search and the
/// invite-code settings.</summary>
public sealed class CatalogRegistryAndSettingsRoutesTests(DeliveryFixture fixture, FakeKubernetesFixture fake) : DeliveryTest(fixture, fake)
{
    private static readonly string[] RegistryFields = ["id", "name", "registryType", "registryUrl", "previewUrl", "status", "isDefault", "lastCheck", "lastError", "createdAt", "updatedAt"];

    [Fact]
    public async Task Templates_are_the_twelve_core_kinds_plus_the_callers_enabled_plugin_node_types()
    {
        var (client, _) = await DeveloperAsync();

        var core = await (await client.GetAsync("/v1/api/templates")).ShouldBeJsonAsync();
        await (await client.PostAsync("/v1/api/plugins/kubevirt/enable", null)).ShouldBeJsonAsync();
        var withPlugin = await (await client.GetAsync("/v1/api/templates")).ShouldBeJsonAsync();
        var storage = await (await client.GetAsync("/v1/api/templates?category=storage")).ShouldBeJsonAsync();

        var templates = core.GetProperty("templates").EnumerateArray().ToList();
        templates.Select(template => template.GetProperty("id").GetString()).Order().ShouldBe(
            ["core/configmap", "core/cronjob", "core/daemonset", "core/deployment", "core/hpa", "core/ingress", "core/job", "core/networkpolicy", "core/persistentvolumeclaim", "core/secret", "core/service", "core/statefulset"]);
        var deployment = templates.Single(template => template.GetProperty("id").GetString() == "core/deployment");
        deployment.PropertyNames().ShouldContain("displayName");
        deployment.PropertyNames().ShouldContain("usageFrequency");
        deployment.PropertyNames().ShouldContain("parameters");
        deployment.GetProperty("usageFrequency").GetString().ShouldBe("very-high");
        deployment.GetProperty("parameters").EnumerateArray().Where(parameter => parameter.GetProperty("required").GetBoolean()).Select(parameter => parameter.GetProperty("name").GetString()).ShouldBe(["name", "image"]);
        var plugin = withPlugin.GetProperty("templates").EnumerateArray().Where(template => template.TryGetProperty("isPlugin", out var isPlugin) && isPlugin.GetBoolean()).ToList();
        plugin.ShouldNotBeEmpty();
        plugin.ShouldAllBe(template => template.GetProperty("pluginId").GetString() == "kubevirt");
        storage.GetProperty("templates").EnumerateArray().Select(template => template.GetProperty("name").GetString()).ShouldBe(["persistentvolumeclaim"]);
    }

    [Fact]
    public async Task Plugins_list_get_enable_disable_per_user()
    {
        var (client, _) = await DeveloperAsync();
        var (other, _) = await DeveloperAsync();

        var all = await (await client.GetAsync("/v1/api/plugins")).ShouldBeJsonAsync();
        var categories = await (await client.GetAsync("/v1/api/plugins/categories")).ShouldBeJsonAsync();
        var enabled = await (await client.PostAsync("/v1/api/plugins/istio/enable", null)).ShouldBeJsonAsync();
        var one = await (await client.GetAsync("/v1/api/plugins/istio")).ShouldBeJsonAsync();
        var mine = await (await client.GetAsync("/v1/api/plugins/enabled")).ShouldBeJsonAsync();
        var theirs = await (await other.GetAsync("/v1/api/plugins/enabled")).ShouldBeJsonAsync();
        var disabled = await (await client.PostAsync("/v1/api/plugins/istio/disable", null)).ShouldBeJsonAsync();
        var after = await (await client.GetAsync("/v1/api/plugins/istio")).ShouldBeJsonAsync();

        all.GetProperty("plugins").GetArrayLength().ShouldBe(57);
        var first = all.GetProperty("plugins")[0];
        foreach (var field in new[] { "id", "name", "displayName", "description", "category", "version", "crdGroup", "crdKinds", "nodeTypes", "enabled" })
        {
            first.PropertyNames().ShouldContain(field);
        }

        categories.GetProperty("categories").GetArrayLength().ShouldBe(13);
        enabled.GetProperty("message").GetString().ShouldBe("Plugin enabled successfully");
        one.PropertyNames().ShouldBe(["plugin", "enabled"]);
        one.GetProperty("enabled").GetBoolean().ShouldBeTrue();
        mine.GetProperty("plugins").EnumerateArray().Single().GetProperty("id").GetString().ShouldBe("istio");
        theirs.GetProperty("plugins").GetArrayLength().ShouldBe(0);
        disabled.GetProperty("message").GetString().ShouldBe("Plugin disabled successfully");
        after.GetProperty("enabled").GetBoolean().ShouldBeFalse();
        await (await client.PostAsync("/v1/api/plugins/nope/enable", null)).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await client.PostAsync("/v1/api/plugins/nope/disable", null)).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        (await (await client.GetAsync($"/v1/api/plugins?category={new string('c', 51)}")).ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty("category", out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Registries_are_managed_by_admins_read_by_everyone_and_never_show_credentials()
    {
        await using var registry = await FakeDockerRegistry.StartAsync("robot", "hunter2-secret");
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);
        var (developer, _) = await DeveloperAsync();

        var response = await admin.PostAsJsonAsync("/v1/api/admin/registries", new { name = "private", registryType = "custom", registryUrl = registry.BaseUrl, credentials = new { username = "robot", password = "hunter2-secret" } });
        var created = await response.ShouldBeJsonAsync(HttpStatusCode.Created);
        var id = created.GetProperty("registry").GetProperty("id").GetGuid();
        var hub = await (await admin.PostAsJsonAsync("/v1/api/admin/registries", new { name = "hub", registryType = "dockerhub", credentials = new { username = "me", password = "pw" } })).ShouldBeJsonAsync(HttpStatusCode.Created);

        created.PropertyNames().ShouldBe(["message", "registry"]);
        created.GetProperty("message").GetString().ShouldBe("Registry created successfully");
        created.GetProperty("registry").PropertyNames().ShouldBe(RegistryFields);
        hub.GetProperty("registry").GetProperty("previewUrl").GetString().ShouldBe("docker.io/me");

        var list = await (await developer.GetAsync("/v1/api/registries")).ShouldBeJsonAsync();
        list.GetProperty("registries").GetArrayLength().ShouldBe(2);
        var one = await (await developer.GetAsync($"/v1/api/registries/{id}")).ShouldBeJsonAsync();
        one.PropertyNames().ShouldBe(RegistryFields);
        (list.ToString() + one + created).ShouldNotContain("hunter2-secret");
        (await Fixture.StoredRowsAsTextAsync("delivery")).ShouldNotContain("hunter2-secret");

        var test = await (await admin.PostAsync($"/v1/api/admin/registries/{id}/test", null)).ShouldBeJsonAsync();
        test.GetProperty("message").GetString().ShouldBe("Connection test successful");
        test.GetProperty("status").GetString().ShouldBe("connected");

        var updated = await (await admin.PutAsJsonAsync($"/v1/api/admin/registries/{id}", new { credentials = new { username = "robot", password = "wrong" } })).ShouldBeJsonAsync();
        updated.GetProperty("message").GetString().ShouldBe("Registry updated successfully");
        await (await admin.PostAsync($"/v1/api/admin/registries/{id}/test", null)).ShouldBeErrorAsync(HttpStatusCode.ServiceUnavailable);

        var isDefault = await (await admin.PutAsync($"/v1/api/admin/registries/{id}/default", null)).ShouldBeJsonAsync();
        isDefault.GetProperty("message").GetString().ShouldBe("Registry set as default successfully");
        var host = new Uri(registry.BaseUrl).Authority;
        var lookup = await (await developer.GetAsync($"/v1/api/registries/lookup?image={host}/team/app:1")).ShouldBeJsonAsync();
        lookup.GetProperty("found").GetBoolean().ShouldBeTrue();
        lookup.GetProperty("registry").GetProperty("id").GetGuid().ShouldBe(id);
        var hubLookup = await (await developer.GetAsync("/v1/api/registries/lookup?image=nginx:1.25")).ShouldBeJsonAsync();
        hubLookup.GetProperty("registry").GetProperty("name").GetString().ShouldBe("hub");
        var none = await (await developer.GetAsync("/v1/api/registries/lookup?image=ghcr.io/org/app")).ShouldBeJsonAsync();
        none.PropertyNames().ShouldBe(["found", "registryType", "message"]);
        none.GetProperty("found").GetBoolean().ShouldBeFalse();
        none.GetProperty("registryType").GetString().ShouldBe("ghcr");

        var deleted = await (await admin.DeleteAsync($"/v1/api/admin/registries/{id}")).ShouldBeJsonAsync();
        deleted.GetProperty("message").GetString().ShouldBe("Registry deleted successfully");
        await (await developer.GetAsync($"/v1/api/registries/{id}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await admin.DeleteAsync($"/v1/api/admin/registries/{id}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await admin.PutAsync($"/v1/api/admin/registries/{id}/default", null)).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await admin.PostAsync($"/v1/api/admin/registries/{id}/test", null)).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await admin.PutAsJsonAsync($"/v1/api/admin/registries/{id}", new { name = "x" })).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData("""{"registryType":"dockerhub","credentials":{"username":"a","password":"b"}}""", "name")]
    [InlineData("""{"name":"bad/name","registryType":"dockerhub","credentials":{"username":"a","password":"b"}}""", "name")]
    [InlineData("""{"name":"x","registryType":"quay","credentials":{"username":"a","password":"b"}}""", "registryType")]
    [InlineData("""{"name":"x","registryType":"dockerhub"}""", "credentials")]
    [InlineData("""{"name":"x","registryType":"dockerhub","credentials":{"username":"a"}}""", "credentials.password")]
    [InlineData("""{"name":"x","registryType":"ecr","registryUrl":"https://1.dkr.ecr.eu-west-1.amazonaws.com","credentials":{"accessKeyId":"a","region":"eu-west-1"}}""", "credentials.secretAccessKey")]
    [InlineData("""{"name":"x","registryType":"custom","credentials":{"username":"a","password":"b"}}""", "registryUrl")]
    [InlineData("""{"name":"x","registryType":"custom","registryUrl":"not a url","credentials":{"username":"a","password":"b"}}""", "registryUrl")]
    public async Task Registry_creation_validates_each_field(string json, string field)
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);

        var error = await (await admin.PostAsync("/v1/api/admin/registries", new StringContent(json, System.Text.Encoding.UTF8, "application/json"))).ShouldBeErrorAsync(HttpStatusCode.BadRequest);

        error.GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue(error.ToString());
    }

    [Fact]
    public async Task Registry_names_are_unique_and_updates_need_a_field()
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);
        var first = await (await admin.PostAsJsonAsync("/v1/api/admin/registries", new { name = "hub", registryType = "dockerhub", credentials = new { username = "me", password = "pw" } })).ShouldBeJsonAsync(HttpStatusCode.Created);
        var id = first.GetProperty("registry").GetProperty("id").GetGuid();

        await (await admin.PostAsJsonAsync("/v1/api/admin/registries", new { name = "HUB", registryType = "dockerhub", credentials = new { username = "me", password = "pw" } })).ShouldBeErrorAsync(HttpStatusCode.Conflict);
        (await (await admin.PutAsJsonAsync($"/v1/api/admin/registries/{id}", new { })).ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("message").GetString()!.ShouldContain("No updates provided");
        (await (await admin.GetAsync("/v1/api/registries/lookup")).ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty("image", out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Dashboard_counts_only_the_callers_workflows_and_lists_the_recent_ones()
    {
        await RegisterClusterAsync();
        var (client, _) = await DeveloperAsync();
        var (other, _) = await DeveloperAsync();
        var id = await PublishedWebAppAsync(client);
        await RunAsync(client, id);
        await CreateWorkflowAsync(client, "draft-one", cluster: null);
        await CreateWorkflowAsync(other, "not-mine", cluster: null);

        var stats = await (await client.GetAsync("/v1/api/dashboard/stats")).ShouldBeJsonAsync();
        var recent = await (await client.GetAsync("/v1/api/dashboard/recent-workflows?limit=1")).ShouldBeJsonAsync();

        stats.PropertyNames().ShouldBe(["total_workflows", "published_workflows", "total_runs", "success_rate", "month", "last_computed_at"]);
        stats.GetProperty("total_workflows").PropertyNames().ShouldBe(["value", "change", "trend"]);
        stats.GetProperty("total_workflows").GetProperty("value").GetString().ShouldBe("2");
        stats.GetProperty("published_workflows").GetProperty("value").GetString().ShouldBe("1");
        stats.GetProperty("total_runs").GetProperty("value").GetString().ShouldBe("1");
        stats.GetProperty("success_rate").GetProperty("value").GetString().ShouldBe("100.0%");
        var workflow = recent.GetProperty("workflows").EnumerateArray().Single();
        workflow.GetProperty("name").GetString().ShouldBe("draft-one");
        workflow.TryGetProperty("nodes", out _).ShouldBeFalse();
        (await (await client.GetAsync("/v1/api/dashboard/recent-workflows?limit=21")).ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty("limit", out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Search_matches_the_callers_workflows_resources_and_clusters_literally()
    {
        var (client, user) = await DeveloperAsync();
        await RegisterClusterAsync("shop-cluster", user.Id);
        await CreateWorkflowAsync(client, "shop frontend", cluster: null);
        await CreateWorkflowAsync(client, "100% sale", cluster: null);
        await Fixture.ExecuteAsync("UPDATE delivery.workflows SET description = ''");
        await Fixture.ExecuteAsync(
            "INSERT INTO delivery.resources (id, user_id, cluster_name, namespace, name, kind, api_version, status) VALUES (gen_random_uuid(), @User, 'shop-cluster', 'default', 'shop-db', 'StatefulSet', 'apps/v1', 'running')",
            new { User = user.Id });

        var found = await (await client.GetAsync("/v1/api/search?q=SHOP")).ShouldBeJsonAsync();
        var percent = await (await client.GetAsync("/v1/api/search?q=0%25 s")).ShouldBeJsonAsync();
        var regex = await (await client.GetAsync("/v1/api/search?q=.*.*")).ShouldBeJsonAsync();
        var shortQuery = await (await client.GetAsync("/v1/api/search?q=sh")).ShouldBeJsonAsync();

        found.PropertyNames().ShouldBe(["workflows", "resources", "clusters"]);
        found.GetProperty("workflows").EnumerateArray().Single().PropertyNames().ShouldBe(["id", "name", "description", "status"]);
        found.GetProperty("resources").EnumerateArray().Single().PropertyNames().ShouldBe(["id", "name", "namespace", "type", "clusterName"]);
        found.GetProperty("clusters").EnumerateArray().Single().PropertyNames().ShouldBe(["name", "displayName", "status"]);
        percent.GetProperty("workflows").EnumerateArray().Single().GetProperty("name").GetString().ShouldBe("100% sale");
        regex.GetProperty("workflows").GetArrayLength().ShouldBe(0);
        shortQuery.GetProperty("workflows").GetArrayLength().ShouldBe(0);
        (await (await client.GetAsync($"/v1/api/search?q={new string('q', 101)}")).ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty("q", out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Invite_code_settings_are_for_admins()
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);
        var (operatorClient, _) = await Fixture.ClientAsAsync(BaseRole.Operator);

        var code = await (await admin.GetAsync("/v1/api/settings/invite-code")).ShouldBeJsonAsync();
        var again = await (await admin.GetAsync("/v1/api/settings/invite-code")).ShouldBeJsonAsync();
        var fresh = await (await admin.PostAsync("/v1/api/settings/generate-invite-code", null)).ShouldBeJsonAsync();
        var setting = await (await admin.GetAsync("/v1/api/settings/regenerate-setting")).ShouldBeJsonAsync();
        var changed = await (await admin.PutAsJsonAsync("/v1/api/settings/regenerate-setting", new { regenerateAfterSignup = true })).ShouldBeJsonAsync();
        var reread = await (await admin.GetAsync("/v1/api/settings/regenerate-setting")).ShouldBeJsonAsync();

        code.PropertyNames().ShouldBe(["inviteCode"]);
        code.GetProperty("inviteCode").GetString()!.Length.ShouldBe(6);
        again.GetProperty("inviteCode").GetString().ShouldBe(code.GetProperty("inviteCode").GetString());
        fresh.GetProperty("inviteCode").GetString().ShouldNotBe(code.GetProperty("inviteCode").GetString());
        setting.PropertyNames().ShouldBe(["regenerateAfterSignup", "inviteCode"]);
        setting.GetProperty("inviteCode").GetString().ShouldBe(fresh.GetProperty("inviteCode").GetString());
        changed.PropertyNames().ShouldBe(["regenerateAfterSignup"]);
        reread.GetProperty("regenerateAfterSignup").GetBoolean().ShouldBeTrue();
        (await (await admin.PutAsJsonAsync("/v1/api/settings/regenerate-setting", new { })).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("details").TryGetProperty("regenerateAfterSignup", out _).ShouldBeTrue();
        await (await operatorClient.GetAsync("/v1/api/settings/invite-code")).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
    }
}
