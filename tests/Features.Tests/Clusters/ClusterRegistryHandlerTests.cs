using System.Text;
using System.Text.Json;
using Capstan.Features.Clusters;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Kubernetes;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;
using FluentValidation;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Features.Tests.Clusters;

/// <summary>Seed 001's cluster registry (register by kubeconfig, list, remove by id) and the client pool's clear: the
/// stored rows (kubeconfig sealed, never returned), the audit rows, and the 404/409/400 paths.</summary>
public sealed class ClusterRegistryHandlerTests(ClustersHandlerFixture fixture, FakeKubernetesFixture fake) : ClusterSliceHandlerTest(fixture, fake)
{
    [Fact]
    public async Task Register_probes_the_kubeconfig_and_stores_it_sealed_as_a_platform_cluster()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var kubeconfig = Api.Kubeconfig(context: "prod-ctx", token: "kube-secret-1");

        var view = await Fixture.SendAsAsync(admin, new RegisterCluster.Command("prod", kubeconfig, "prod-ctx", " main cluster "));

        (view.Name, view.Description, view.Server, view.AuthType, view.Context, view.Scope, view.Source, view.Status, view.Connected, view.Version, view.OwnerId)
            .ShouldBe(("prod", "main cluster", Api.BaseUrl, "kubeconfig", (string?)"prod-ctx", "platform", "uploaded", "connected", true, (string?)"v1.30.4", (Guid?)admin.Id));
        view.Contexts.Select(context => context!["name"]!.GetValue<string>()).ShouldBe(["prod-ctx"]);
        view.Namespace.ShouldBe("default");
        JsonSerializer.Serialize(view).ShouldNotContain("kube-secret-1");
        Api.Requests.ShouldContain(request => request.Path == "/version" && request.Authorization == "Bearer kube-secret-1");
        var stored = await StoredAsync("prod");
        (stored.Id, stored.Scope, stored.Status, stored.Context).ShouldBe((view.Id, "platform", "connected", (string?)"prod-ctx"));
        Encoding.UTF8.GetString(stored.Credentials).ShouldNotContain("kube-secret-1");
        var opened = Open(stored);
        opened.Kubeconfig.ShouldBe(kubeconfig);
        opened.Context.ShouldBe("prod-ctx");
        (await ConnectionLogsAsync()).Select(log => (log.ClusterId, log.Action, log.Success)).ShouldBe([(view.Id, "cluster_added", true)]);
        var audit = (await AuditAsync()).Single();
        (audit.Action, audit.ResourceId, audit.ResourceName, audit.ActorId).ShouldBe(("cluster.create", view.Id.ToString(), "prod", (Guid?)admin.Id));
        System.Text.Json.Nodes.JsonNode.Parse(audit.Metadata)!["context"]!.GetValue<string>().ShouldBe("prod-ctx");
    }

    [Fact]
    public async Task Register_conflicts_on_a_taken_name_and_refuses_a_bad_kubeconfig_or_context()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        await Fixture.RegisterClusterAsync(Api, "Taken");

        (await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(admin, new RegisterCluster.Command("TAKEN", Api.Kubeconfig(), null, null)))).Message
            .ShouldBe("A cluster named 'TAKEN' already exists");
        (await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(admin, new RegisterCluster.Command("other", "this: [is not a kubeconfig", null, null))))
            .Details!.Keys.ShouldBe(["kubeconfig"]);
        (await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(admin, new RegisterCluster.Command("other", Api.Kubeconfig(), "elsewhere", null))))
            .Message.ShouldBe("The kubeconfig has no context named 'elsewhere' (it has: fake)");

        (await Fixture.QueryAsync<string>("SELECT name FROM clusters.clusters")).ShouldBe(["Taken"]);
        (await ConnectionLogsAsync()).ShouldBeEmpty();
        Api.Requests.ShouldBeEmpty();
    }

    [Theory]
    [InlineData("ab", "ok", null, null)]
    [InlineData("default", "ok", null, null)]
    [InlineData("_prod", "ok", null, null)]
    [InlineData("prod", "", null, null)]
    [InlineData("prod", "ok", "long-description", null)]
    [InlineData("prod", "ok", null, "long-context")]
    public async Task Register_validates_each_field(string name, string kubeconfig, string? description, string? context)
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var command = new RegisterCluster.Command(
            name,
            kubeconfig == "ok" ? Api.Kubeconfig() : kubeconfig,
            context is null ? null : new string('c', 254),
            description is null ? null : new string('d', 501));

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, command));

        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM clusters.clusters")).ShouldBe(0);
    }

    [Fact]
    public async Task List_shows_the_callers_visible_clusters_and_a_manager_sees_all()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var other = await Fixture.CreateUserAsync(BaseRole.Developer);
        await Fixture.RegisterClusterAsync(Api, "platform");
        await Fixture.RegisterClusterAsync(Api, "mine", viewer.Id, scope: "user", isDefaultFor: true);
        await Fixture.RegisterClusterAsync(Api, "theirs", other.Id, scope: "user");

        var seen = await Fixture.SendAsAsync(viewer, new ListClusters.Query());
        var all = await Fixture.SendAsAsync(admin, new ListClusters.Query());

        seen.Clusters.Select(cluster => (cluster.Name, cluster.IsDefault, cluster.Source, cluster.Connected)).ShouldBe([("platform", false, "uploaded", true), ("mine", true, "uploaded", true)]);
        seen.Total.ShouldBe(2);
        all.Clusters.Select(cluster => cluster.Name).ShouldBe(["platform", "mine", "theirs"]);
        all.Clusters.ShouldAllBe(cluster => !cluster.IsDefault, "the defaults are the viewer's, not the admin's");
        JsonSerializer.Serialize(all).ShouldNotContain("current-context", Case.Insensitive);
    }

    [Fact]
    public async Task Remove_deletes_the_cluster_by_id_with_its_flux_bindings()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var doomed = await Fixture.RegisterClusterAsync(Api, "doomed");
        var kept = await Fixture.RegisterClusterAsync(Api, "kept");
        await Fixture.ExecuteAsync(
            "INSERT INTO identity.flux_bindings (id, user_id, policy_id, cluster) VALUES (gen_random_uuid(), @User, '00000000-0000-0000-0000-000000000001', @Doomed), (gen_random_uuid(), @User, '00000000-0000-0000-0000-000000000001', '')",
            new { User = admin.Id, Doomed = doomed.ToString() });

        var response = await Fixture.SendAsAsync(admin, new RemoveCluster.Command(doomed));

        response.ShouldBe(new RemoveCluster.Response(true, "Cluster 'doomed' removed", doomed));
        (await Fixture.QueryAsync<Guid>("SELECT id FROM clusters.clusters")).ShouldBe([kept]);
        (await Fixture.QueryAsync<string>("SELECT cluster FROM identity.flux_bindings")).ShouldBe([string.Empty]);
        var audit = (await AuditAsync()).Single();
        (audit.Action, audit.ResourceType, audit.ResourceId, audit.ResourceName).ShouldBe(("cluster.delete", "cluster", doomed.ToString(), "doomed"));
    }

    [Fact]
    public async Task Remove_of_an_unknown_or_invisible_id_is_not_found_and_an_empty_id_is_invalid()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        var theirs = await Fixture.RegisterClusterAsync(Api, "theirs", admin.Id, scope: "user");

        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(admin, new RemoveCluster.Command(Guid.CreateVersion7())))).Message.ShouldBe("Cluster not found");
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(developer, new RemoveCluster.Command(theirs)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new RemoveCluster.Command(Guid.Empty)));

        (await Fixture.QueryAsync<Guid>("SELECT id FROM clusters.clusters")).ShouldBe([theirs]);
        (await AuditAsync()).ShouldBeEmpty();
    }

    [Fact]
    public async Task Clearing_the_client_pool_drops_the_pooled_clients_and_audits_the_count()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var pool = Fixture.Services.GetRequiredService<KubernetesClientPool>();
        pool.Clear();
        await Fixture.RegisterClusterAsync(Api, "first");
        await Fixture.RegisterClusterAsync(Api, "second");
        await Fixture.SendAsAsync(admin, new GetClusterMetrics.Query("first"));
        await Fixture.SendAsAsync(admin, new GetClusterMetrics.Query("second"));
        pool.Stats.Clients.ShouldBe(2);

        var cleared = await Fixture.SendAsAsync(admin, new ClearClientPool.Command());
        var again = await Fixture.SendAsAsync(admin, new ClearClientPool.Command());

        cleared.ShouldBe(new ClearClientPool.Response("Connection pool cleared", 2));
        again.Cleared.ShouldBe(0);
        pool.Stats.Clients.ShouldBe(0);
        pool.Stats.LastClearedAt.ShouldNotBeNull();
        (await AuditAsync()).Select(row => (row.Action, row.ResourceType, row.Metadata)).ShouldBe(
            [("k8s-client-pool.clear", "k8s_client_pool", """{"cleared": 2}"""), ("k8s-client-pool.clear", "k8s_client_pool", """{"cleared": 0}""")]);
    }
}
