using System.Text.Json.Nodes;
using Capstan.Features.Delivery.Builds;
using Capstan.Features.Delivery.Resources;
using Capstan.Features.Delivery.Runs;
using Capstan.Features.Delivery.Versions;
using Capstan.Features.Delivery.Workflows;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Paging;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;

namespace Capstan.Features.Tests.Delivery;

/// <summary>Each delivery slice's handler through the real pipeline on the real database: its main success and its
/// main failure (validation, not found, conflict) — workflows, runs, versions, tracked resources and builds.</summary>
[Collection(DeliveryHandlerCollection.Name)]
public sealed class DeliverySliceHandlerTests(DeliveryHandlerFixture fixture) : HandlerTest<DeliveryHandlerFixture>(fixture)
{
    private static readonly SortClause WorkflowSort = new SortWhitelist("created", OrderDirection.Descending, "w.id", ("created", "w.created_at"), ("name", "w.name")).Resolve("name", "asc");

    private static readonly SortClause ResourceSort = new SortWhitelist("name", OrderDirection.Ascending, "r.id", ("name", "r.name")).Resolve(null, null);

    private static JsonArray ConfigMaps(params string[] names) =>
        [.. names.Select(name => (JsonNode)new JsonObject { ["id"] = name, ["type"] = "configmap", ["data"] = new JsonObject { ["name"] = name } })];

    private async Task<Guid> CreateAsync(TestUser user, string name = "shop", JsonArray? nodes = null, List<string>? tags = null)
    {
        var created = await Fixture.SendAsAsync(user, new CreateWorkflow.Command { Name = name, Description = "the " + name, Tags = tags, Nodes = nodes ?? [], Edges = new JsonArray() });
        return created["id"]!.GetValue<Guid>();
    }

    [Fact]
    public async Task List_filters_by_search_and_status_pages_and_validates_the_status()
    {
        var user = await Fixture.CreateUserAsync(BaseRole.Developer);
        var other = await Fixture.CreateUserAsync(BaseRole.Developer);
        await CreateAsync(user, "alpha");
        var beta = await CreateAsync(user, "beta");
        await CreateAsync(user, "gamma");
        await CreateAsync(other, "alpha-of-other");
        await Fixture.SendAsAsync(user, new UpdateWorkflowStatus.Command(beta, "published"));

        var all = await Fixture.SendAsAsync(user, new ListWorkflows.Query(null, null, new PageRequest(0, 2), WorkflowSort));
        var published = await Fixture.SendAsAsync(user, new ListWorkflows.Query(null, "published", new PageRequest(0, 10), WorkflowSort));
        var searched = await Fixture.SendAsAsync(user, new ListWorkflows.Query("alp", null, new PageRequest(0, 10), WorkflowSort));

        all.Total.ShouldBe(3);
        all.Workflows.Select(workflow => workflow.Name).ShouldBe(["alpha", "beta"]);
        all.Pagination.HasMore.ShouldBeTrue();
        published.Workflows.Single().Id.ShouldBe(beta);
        searched.Workflows.Select(workflow => workflow.Name).ShouldBe(["alpha"]);
        var error = await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(user, new ListWorkflows.Query(null, "deleted", new PageRequest(0, 10), WorkflowSort)));
        error.Errors.Select(failure => failure.PropertyName).ShouldContain("status");
    }

    [Fact]
    public async Task Get_returns_the_graph_and_404s_an_unknown_id()
    {
        var user = await Fixture.CreateUserAsync(BaseRole.Developer);
        var id = await CreateAsync(user, nodes: ConfigMaps("a", "b"), tags: ["web"]);

        var workflow = await Fixture.SendAsAsync(user, new GetWorkflow.Query(id));

        workflow.Name.ShouldBe("shop");
        workflow.Status.ShouldBe("draft");
        workflow.Tags.ShouldBe(["web"]);
        workflow.Nodes!.AsArray().Count.ShouldBe(2);
        workflow.CurrentVersion.ShouldBe(1);
        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(user, new GetWorkflow.Query(Guid.CreateVersion7())))).Message.ShouldBe("Workflow not found");
    }

    [Fact]
    public async Task Update_changes_only_the_fields_sent_and_refuses_an_empty_body_or_archiving()
    {
        var user = await Fixture.CreateUserAsync(BaseRole.Developer);
        var id = await CreateAsync(user, nodes: ConfigMaps("a"));

        var updated = await Fixture.SendAsAsync(user, new UpdateWorkflow.Command(id, new UpdateWorkflow.Body { Name = "renamed", Tags = ["x", "y"] }));

        updated.Name.ShouldBe("renamed");
        updated.Description.ShouldBe("the shop");
        updated.Tags.ShouldBe(["x", "y"]);
        (await Fixture.ScalarAsync<string>("SELECT name FROM delivery.workflows WHERE id = @Id", new { Id = id })).ShouldBe("renamed");
        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(user, new UpdateWorkflow.Command(id, new UpdateWorkflow.Body()))))
            .Errors.Select(failure => failure.PropertyName).ShouldContain("body");
        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(user, new UpdateWorkflow.Command(id, new UpdateWorkflow.Body { Status = "archived" }))))
            .Errors.Select(failure => failure.PropertyName).ShouldContain("status");
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(user, new UpdateWorkflow.Command(Guid.CreateVersion7(), new UpdateWorkflow.Body { Name = "x" })));
    }

    [Fact]
    public async Task A_null_tag_is_a_validation_failure_on_create_update_and_resource_patch()
    {
        var user = await Fixture.CreateUserAsync(BaseRole.Developer);
        var id = await CreateAsync(user);
        var resource = await TrackAsync(user, "Pod", "web-abc");
        List<string> withNull = ["ok", null!];

        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(user, new CreateWorkflow.Command { Name = "x", Tags = withNull })))
            .Errors.Select(failure => failure.PropertyName).ShouldContain("tags");
        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(user, new UpdateWorkflow.Command(id, new UpdateWorkflow.Body { Tags = withNull }))))
            .Errors.Select(failure => failure.PropertyName).ShouldContain("tags");
        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(user, new UpdateResource.Command(resource, withNull, null, null))))
            .Errors.Select(failure => failure.PropertyName).ShouldContain("userTags");
    }

    [Fact]
    public async Task Clone_copies_the_graph_as_a_new_draft_at_version_one_and_needs_a_name()
    {
        var user = await Fixture.CreateUserAsync(BaseRole.Developer);
        var other = await Fixture.CreateUserAsync(BaseRole.Developer);
        var id = await CreateAsync(user, nodes: ConfigMaps("a", "b"));
        await Fixture.SendAsAsync(user, new UpdateWorkflowStatus.Command(id, "published"));

        var clone = await Fixture.SendAsAsync(user, new CloneWorkflow.Command(id, "  copy  "));

        var cloneId = clone["id"]!.GetValue<Guid>();
        cloneId.ShouldNotBe(id);
        var stored = await Fixture.SendAsAsync(user, new GetWorkflow.Query(cloneId));
        stored.Name.ShouldBe("copy");
        stored.Status.ShouldBe("draft");
        stored.Description.ShouldBe("the shop (Cloned)");
        stored.Nodes!.AsArray().Count.ShouldBe(2);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM delivery.workflow_versions WHERE workflow_id = @Id AND version = 1", new { Id = cloneId })).ShouldBe(1);
        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(user, new CloneWorkflow.Command(id, ""))))
            .Errors.Select(failure => failure.PropertyName).ShouldContain("name");
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(other, new CloneWorkflow.Command(id, "stolen")));
    }

    [Fact]
    public async Task Status_moves_between_draft_published_and_archived_and_rejects_others()
    {
        var user = await Fixture.CreateUserAsync(BaseRole.Developer);
        var id = await CreateAsync(user);

        var published = await Fixture.SendAsAsync(user, new UpdateWorkflowStatus.Command(id, "published"));
        var archived = await Fixture.SendAsAsync(user, new UpdateWorkflowStatus.Command(id, "archived"));

        published.Message.ShouldBe("Workflow status updated successfully");
        published.Status.ShouldBe("published");
        archived.Deleted.ShouldBeEmpty("no run applied anything");
        (await Fixture.ScalarAsync<string>("SELECT status FROM delivery.workflows WHERE id = @Id", new { Id = id })).ShouldBe("archived");
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.audit_log WHERE action = 'delivery.workflow.status' AND resource_id = @Id", new { Id = id.ToString() })).ShouldBe(2);
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(user, new UpdateWorkflowStatus.Command(id, "running")));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(user, new UpdateWorkflowStatus.Command(id, null)));
    }

    [Fact]
    public async Task Save_replaces_the_graph_and_refuses_a_broken_one()
    {
        var user = await Fixture.CreateUserAsync(BaseRole.Developer);
        var id = await CreateAsync(user, nodes: ConfigMaps("a"));

        var saved = await Fixture.SendAsAsync(user, new SaveWorkflow.Command(id, ConfigMaps("a", "b", "c"), new JsonArray(), "three maps"));

        saved.Workflow.Nodes!.AsArray().Count.ShouldBe(3);
        saved.Deleted.ShouldBeEmpty();
        (await Fixture.ScalarAsync<long>("SELECT jsonb_array_length(nodes) FROM delivery.workflows WHERE id = @Id", new { Id = id })).ShouldBe(3);
        var broken = new JsonArray { new JsonObject { ["id"] = "e", ["source"] = "a", ["target"] = "nowhere" } };
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(user, new SaveWorkflow.Command(id, ConfigMaps("a"), broken, null)));
        (await Fixture.ScalarAsync<long>("SELECT jsonb_array_length(nodes) FROM delivery.workflows WHERE id = @Id", new { Id = id })).ShouldBe(3, "a refused save changes nothing");
    }

    [Fact]
    public async Task A_run_needs_a_published_workflow_and_the_runs_list_is_the_owners_only()
    {
        var user = await Fixture.CreateUserAsync(BaseRole.Developer);
        var other = await Fixture.CreateUserAsync(BaseRole.Developer);
        var id = await CreateAsync(user, nodes: ConfigMaps("a"));
        await Fixture.ExecuteAsync(
            "INSERT INTO delivery.workflow_runs (id, workflow_id, version, status, cluster_name, started_at) VALUES (@Run, @Id, 1, 'completed', 'prod', now())",
            new { Run = Guid.CreateVersion7(), Id = id });

        (await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(user, new RunWorkflow.Command(id, null, null, null)))).Message.ShouldBe("Workflow must be published to run");
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(other, new RunWorkflow.Command(id, null, null, null)));
        var runs = await Fixture.SendAsAsync(user, new ListWorkflowRuns.Query(id, 10));

        runs.Runs.Single().Status.ShouldBe("completed");
        runs.Runs.Single().Cluster.ShouldBe("prod");
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(other, new ListWorkflowRuns.Query(id, 10)));
        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(user, new ListWorkflowRuns.Query(id, 0))))
            .Errors.Select(failure => failure.PropertyName).ShouldContain("limit");
    }

    [Fact]
    public async Task Versions_are_listed_read_renamed_and_compared()
    {
        var user = await Fixture.CreateUserAsync(BaseRole.Developer);
        var id = await CreateAsync(user, nodes: ConfigMaps("a", "b"));
        await Fixture.SendAsAsync(user, new SaveWorkflow.Command(id, ConfigMaps("a", "c"), new JsonArray(), null));
        await Fixture.SendAsAsync(user, new CreateVersion.Command(id, "second", "v2", null));

        var list = await Fixture.SendAsAsync(user, new ListVersions.Query(id, new PageRequest(0, 10)));
        var first = await Fixture.SendAsAsync(user, new GetVersion.Query(id, 1));
        var renamed = await Fixture.SendAsAsync(user, new UpdateVersion.Command(id, 2, "release", null, "the release"));
        var compare = await Fixture.SendAsAsync(user, new CompareVersions.Query(id, 1, 2));

        list.Total.ShouldBe(2);
        list.Versions.Select(version => version.Version).ShouldBe([2, 1]);
        first.Description.ShouldBe("Initial version");
        renamed.Version.Name.ShouldBe("release");
        renamed.Version.Tag.ShouldBe("v2", "fields left out stay");
        renamed.Version.Description.ShouldBe("the release");
        compare.AddedNodes.Select(node => node.NodeId).ShouldBe(["c"]);
        compare.RemovedNodes.Select(node => node.NodeId).ShouldBe(["b"]);
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(user, new GetVersion.Query(id, 7)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(user, new UpdateVersion.Command(id, 2, null, null, null)));
        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(user, new CompareVersions.Query(id, null, 2))))
            .Errors.Select(failure => failure.PropertyName).ShouldContain("v1");
    }

    private async Task<Guid> TrackAsync(TestUser user, string kind, string name, string @namespace = "default", string labels = "{}", string status = "running")
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            """
            INSERT INTO delivery.resources (id, user_id, cluster_name, namespace, name, kind, api_version, status, labels, spec)
            VALUES (@Id, @User, 'prod', @Namespace, @Name, @Kind, 'v1', @Status, CAST(@Labels AS jsonb), '{"containers":[{"name":"app"}]}')
            """,
            new { Id = id, User = user.Id, Namespace = @namespace, Name = name, Kind = kind, Status = status, Labels = labels });
        return id;
    }

    [Fact]
    public async Task Resources_are_listed_read_annotated_and_their_pods_found()
    {
        var user = await Fixture.CreateUserAsync(BaseRole.Developer);
        var other = await Fixture.CreateUserAsync(BaseRole.Developer);
        var deployment = await TrackAsync(user, "Deployment", "web");
        await TrackAsync(user, "Pod", "web-abc", labels: """{"app":"web"}""");
        var lonely = await TrackAsync(user, "Pod", "other-xyz", labels: """{"app":"other"}""");
        await TrackAsync(user, "Pod", "coredns-1", "kube-system");
        await TrackAsync(other, "Pod", "web-foreign", labels: """{"app":"web"}""");

        var all = await Fixture.SendAsAsync(user, new ListResources.Query(null, null, "Pod", null, false, new PageRequest(0, 25), ResourceSort));
        var hidden = await Fixture.SendAsAsync(user, new ListResources.Query(null, null, "all", null, true, new PageRequest(0, 25), ResourceSort));
        var searched = await Fixture.SendAsAsync(user, new ListResources.Query(null, null, null, "abc", false, new PageRequest(0, 25), ResourceSort));
        var pods = await Fixture.SendAsAsync(user, new ListResourcePods.Query(deployment));
        var updated = await Fixture.SendAsAsync(user, new UpdateResource.Command(deployment, [" core ", "core"], "watch it", true));
        var one = await Fixture.SendAsAsync(user, new GetResource.Query(deployment));

        all.Total.ShouldBe(3);
        all.Resources.Select(resource => resource.Name).ShouldBe(["coredns-1", "other-xyz", "web-abc"]);
        hidden.Resources.Select(resource => resource.Name).ShouldBe(["other-xyz", "web", "web-abc"]);
        searched.Resources.Single().Name.ShouldBe("web-abc");
        pods.Pods!.Select(pod => pod.Name).ShouldBe(["web-abc"]);
        pods.Count.ShouldBe(1);
        updated.Message.ShouldBe("Resource updated successfully");
        (await Fixture.ScalarAsync<string[]>("SELECT user_tags FROM delivery.resources WHERE id = @Id", new { Id = deployment }))!.ShouldBe(["core"]);
        one.Resource.Name.ShouldBe("web");
        (await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(user, new ListResourcePods.Query(lonely)))).Message.ShouldBe("Resource type does not have child resources");
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(other, new GetResource.Query(deployment)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(other, new UpdateResource.Command(deployment, null, "mine", null)));
        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(user, new UpdateResource.Command(deployment, null, null, null))))
            .Errors.Select(failure => failure.PropertyName).ShouldContain("body");
    }

    [Fact]
    public async Task A_sync_starts_once_and_a_second_is_already_running()
    {
        var user = await Fixture.CreateUserAsync(BaseRole.Developer);

        var first = await Fixture.SendAsAsync(user, new SyncResources.Command());
        var second = await Fixture.SendAsAsync(user, new SyncResources.Command());

        first.Status.ShouldBe("started");
        first.Message.ShouldBe("Sync started for all clusters");
        second.Status.ShouldBe("already_running");
        (await Fixture.ScalarAsync<string>("SELECT status FROM delivery.resource_syncs WHERE user_id = @User", new { User = user.Id })).ShouldBe("running");
    }

    [Fact]
    public async Task The_stream_and_terminal_handlers_resolve_only_the_callers_objects()
    {
        var user = await Fixture.CreateUserAsync(BaseRole.Developer);
        var other = await Fixture.CreateUserAsync(BaseRole.Developer);
        var workflow = await CreateAsync(user);
        var build = await BuildAsync(user, "building");
        var pod = await TrackAsync(user, "Pod", "web-abc");
        var deployment = await TrackAsync(user, "Deployment", "web");

        (await Fixture.SendAsAsync(user, new StreamWorkflowStatus.Query(workflow))).Id.ShouldBe(workflow);
        (await Fixture.SendAsAsync(user, new StreamBuild.Query(build))).Id.ShouldBe(build);
        (await Fixture.SendAsAsync(user, new StreamResource.Query(pod))).Name.ShouldBe("web-abc");
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(other, new StreamWorkflowStatus.Query(workflow)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(other, new StreamBuild.Query(build)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(other, new StreamResource.Query(pod)));

        (await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(user, new StreamPodLogs.Query(deployment, null)))).Message.ShouldBe("Only pods have logs. This resource is not a pod.");
        (await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(user, new OpenTerminal.Query(deployment, null)))).Message.ShouldBe("Terminals open in pods. This resource is not a pod.");
        (await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(user, new StreamPodLogs.Query(pod, "sidecar")))).Message.ShouldContain("Container 'sidecar' is not in pod web-abc (app)");
        (await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(user, new OpenTerminal.Query(pod, "sidecar")))).Message.ShouldContain("Container 'sidecar' is not in pod web-abc (app)");
        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(user, new StreamPodLogs.Query(pod, "app")))).Message.ShouldBe("Cluster 'prod' not found");
        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(user, new OpenTerminal.Query(pod, null)))).Message.ShouldBe("Cluster 'prod' not found");
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(other, new OpenTerminal.Query(pod, null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(user, new OpenTerminal.Query(pod, new string('c', 64))));
    }

    [Fact]
    public async Task A_cronjobs_children_are_its_jobs()
    {
        var user = await Fixture.CreateUserAsync(BaseRole.Developer);
        var cron = await TrackAsync(user, "CronJob", "nightly");
        var job = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            """
            INSERT INTO delivery.resources (id, user_id, cluster_name, namespace, name, kind, api_version, status, owner_references)
            VALUES (@Id, @User, 'prod', 'default', 'nightly-2901', 'Job', 'batch/v1', 'completed', '[{"kind":"CronJob","name":"nightly"}]')
            """,
            new { Id = job, User = user.Id });
        await TrackAsync(user, "Job", "unrelated");

        var children = await Fixture.SendAsAsync(user, new ListResourcePods.Query(cron));

        children.Pods.ShouldBeNull();
        children.Jobs!.Select(item => item.Id).ShouldBe([job]);
        children.Count.ShouldBe(1);
    }

    private async Task<Guid> BuildAsync(TestUser user, string status)
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            "INSERT INTO delivery.builds (id, user_id, repo_url, branch, image_name, image_tag, status) VALUES (@Id, @User, 'https://git.example/x.git', 'main', 'x', 'latest', @Status)",
            new { Id = id, User = user.Id, Status = status });
        return id;
    }

    [Fact]
    public async Task Builds_are_listed_read_and_cancelled_once()
    {
        var user = await Fixture.CreateUserAsync(BaseRole.Developer);
        var other = await Fixture.CreateUserAsync(BaseRole.Developer);
        var running = await BuildAsync(user, "building");
        await BuildAsync(user, "completed");
        await BuildAsync(other, "building");

        var all = await Fixture.SendAsAsync(user, new ListBuilds.Query(null, null, new PageRequest(0, 10)));
        var building = await Fixture.SendAsAsync(user, new ListBuilds.Query("building", null, new PageRequest(0, 10)));
        var one = await Fixture.SendAsAsync(user, new GetBuild.Query(running));
        var cancelled = await Fixture.SendAsAsync(user, new CancelBuild.Command(running));

        all.Total.ShouldBe(2);
        building.Builds.Single().Id.ShouldBe(running);
        one.Build.Status.ShouldBe("building");
        cancelled.Message.ShouldBe("Build cancelled successfully");
        cancelled.Build.Status.ShouldBe("cancelled");
        cancelled.Build.CurrentStage.ShouldBe("Cancelled");
        (await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(user, new CancelBuild.Command(running)))).Message.ShouldBe("build is already in terminal state: cancelled");
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(other, new GetBuild.Query(running)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(other, new CancelBuild.Command(running)));
        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(user, new ListBuilds.Query("stuck", null, new PageRequest(0, 10)))))
            .Errors.Select(failure => failure.PropertyName).ShouldContain("status");
    }

    [Fact]
    public async Task Start_validates_and_404s_an_unknown_registry_without_recording_a_build()
    {
        var user = await Fixture.CreateUserAsync(BaseRole.Developer);

        var invalid = await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(user, new StartBuild.Command("ftp://x", "--upload-pack=x", null, "Web", null, null, null, null, null, null, null)));
        var unknown = await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(user, new StartBuild.Command("https://x/y.git", "main", Guid.CreateVersion7(), "web", "v1", null, null, null, null, null, null)));

        invalid.Errors.Select(failure => failure.PropertyName).ShouldContain("repoUrl");
        invalid.Errors.Select(failure => failure.PropertyName).ShouldContain("branch");
        invalid.Errors.Select(failure => failure.PropertyName).ShouldContain("registryId");
        invalid.Errors.Select(failure => failure.PropertyName).ShouldContain("imageName");
        unknown.Message.ShouldBe("Registry not found");
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM delivery.builds WHERE user_id = @User", new { User = user.Id })).ShouldBe(0);
    }
}
