using System.Text;
using System.Text.Json.Nodes;
using Capstan.Features.Delivery.Imports;
using Capstan.Features.Delivery.Workflows;
using Capstan.Infrastructure.Delivery;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;

namespace Capstan.Features.Tests.Delivery.Imports;

/// <summary>The import slices through the real pipeline: upload and analyze of a Compose file, a Git analysis queued as
/// a session, the caller's sessions (read and streamed), and the analysis turned into a new workflow or added to one.</summary>
[Collection(DeliveryHandlerCollection.Name)]
public sealed class ImportHandlerTests(DeliveryHandlerFixture fixture) : HandlerTest<DeliveryHandlerFixture>(fixture)
{
    private const string Compose = """
        services:
          web:
            image: nginx:1.25
            ports: ["8080:80"]
            environment: {MODE: production, API_TOKEN: t0ken-value}
          db:
            image: postgres:16
            volumes: [pgdata:/var/lib/postgresql/data]
        volumes:
          pgdata: {}
        """;

    private static string Base64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    private static IEnumerable<JsonObject> NodesOf(JsonObject analysis) => analysis["suggestedNodes"]!.AsArray().OfType<JsonObject>();

    private static JsonObject Node(string id, string type, string name) =>
        new() { ["id"] = id, ["type"] = type, ["data"] = new JsonObject { ["name"] = name } };

    private async Task<Guid> WorkflowAsync(TestUser owner, JsonArray nodes, JsonArray? edges = null)
    {
        var created = await Fixture.SendAsAsync(owner, new CreateWorkflow.Command { Name = "shop", Nodes = nodes, Edges = edges ?? [] });
        return created["id"]!.GetValue<Guid>();
    }

    private async Task<Guid> GitSessionAsync(TestUser owner, string url = "https://git.example.com/acme/shop.git", string? branch = null) =>
        (await Fixture.SendAsAsync(owner, new AnalyzeImport.Command("git_url", url, branch, null, null, "shop", null))).SessionId!.Value;

    private Task<long> SessionCountAsync() => Fixture.ScalarAsync<long>("SELECT count(*) FROM delivery.import_sessions");

    [Fact]
    public async Task Upload_analyses_the_file_in_the_namespace_answers_it_back_and_audits()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        var bytes = Encoding.UTF8.GetBytes(Compose);

        var response = await Fixture.SendAsAsync(developer, new UploadImport.Command("compose.yaml", bytes, "shop"));

        response.FileName.ShouldBe("compose.yaml");
        response.FileSize.ShouldBe(bytes.Length);
        response.FileContent.ShouldBe(Convert.ToBase64String(bytes));
        response.Analysis["detectedType"]!.GetValue<string>().ShouldBe("docker-compose");
        response.Analysis["services"]!.AsArray().Count.ShouldBe(2);
        NodesOf(response.Analysis).ShouldAllBe(node => node["data"]!["namespace"]!.GetValue<string>() == "shop");
        response.Analysis.ToJsonString().ShouldNotContain("t0ken-value");
        var audit = (await Fixture.QueryAsync<(Guid ActorId, string ResourceName, string Metadata)>(
            "SELECT actor_id, resource_name, metadata::text FROM identity.audit_log WHERE action = 'delivery.import.upload'")).Single();
        audit.ActorId.ShouldBe(developer.Id);
        audit.ResourceName.ShouldBe("compose.yaml");
        audit.Metadata.ShouldContain($"\"size\": {bytes.Length}");
        audit.Metadata.ShouldContain("\"services\": 2");
    }

    [Fact]
    public async Task Upload_defaults_the_namespace()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);

        var response = await Fixture.SendAsAsync(developer, new UploadImport.Command("c.YML", Encoding.UTF8.GetBytes(Compose), null));

        NodesOf(response.Analysis).ShouldAllBe(node => node["data"]!["namespace"]!.GetValue<string>() == "default");
    }

    [Fact]
    public async Task Upload_refuses_other_files_bad_namespaces_and_invalid_compose()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        var bytes = Encoding.UTF8.GetBytes(Compose);

        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(developer, new UploadImport.Command("compose.json", bytes, null))))
            .Errors.Select(error => error.PropertyName).ShouldBe(["file"]);
        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(developer, new UploadImport.Command("c.yml", bytes, "Bad_NS"))))
            .Errors.Select(error => error.PropertyName).ShouldBe(["namespace"]);
        await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(developer, new UploadImport.Command("c.yml", Encoding.UTF8.GetBytes("services:\n  a:\n    image: x\nbogus: 1\n"), null)));
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.audit_log WHERE action = 'delivery.import.upload'")).ShouldBe(0);
    }

    [Fact]
    public async Task Analyzing_a_file_answers_the_analysis_at_once_without_a_session()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);

        var response = await Fixture.SendAsAsync(developer, new AnalyzeImport.Command("file", null, null, Base64(Compose), "docker-compose.yml", "shop", null));

        response.Async.ShouldBeFalse();
        response.SessionId.ShouldBeNull();
        response.Analysis!["services"]!.AsArray().Count.ShouldBe(2);
        NodesOf(response.Analysis).Select(node => node["type"]!.GetValue<string>()).ShouldContain("persistentvolumeclaim");
        NodesOf(response.Analysis).ShouldAllBe(node => node["data"]!["namespace"]!.GetValue<string>() == "shop");
        (await SessionCountAsync()).ShouldBe(0);
        (await Fixture.ScalarAsync<string>("SELECT resource_name FROM identity.audit_log WHERE action = 'delivery.import.analyze'")).ShouldBe("docker-compose.yml");
    }

    [Fact]
    public async Task Analyzing_a_file_refuses_content_that_is_not_base64_too_large_or_not_compose()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);

        (await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(developer, new AnalyzeImport.Command("file", null, null, "%%not-base64%%", null, null, null))))
            .Details!.Keys.ShouldBe(["fileContent"]);
        (await Should.ThrowAsync<PayloadTooLargeException>(() => Fixture.SendAsAsync(developer, new AnalyzeImport.Command("file", null, null, Base64("services:\n  a:\n    image: x\n#" + new string('x', 1 << 20)), null, null, null))))
            .Message.ShouldBe("File too large. Maximum size is 1MB");
        await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(developer, new AnalyzeImport.Command("file", null, null, Base64("services: [a, b"), null, null, null)));
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.audit_log WHERE action = 'delivery.import.analyze'")).ShouldBe(0);
    }

    [Fact]
    public async Task Analyzing_a_git_source_queues_a_session_of_the_caller()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        var workflow = await WorkflowAsync(developer, []);

        var response = await Fixture.SendAsAsync(developer, new AnalyzeImport.Command("github", " https://github.com/acme/shop ", null, null, null, null, workflow));

        response.Async.ShouldBeTrue();
        response.Analysis.ShouldBeNull();
        response.Message.ShouldBe("Cloning repository...");
        var session = (await Fixture.QueryAsync<(Guid UserId, string Source, string Url, string Branch, string Namespace, Guid? WorkflowId)>(
            "SELECT user_id, source, url, branch, namespace, workflow_id FROM delivery.import_sessions WHERE id = @Id",
            new { Id = response.SessionId })).Single();
        session.ShouldBe((developer.Id, "github", "https://github.com/acme/shop", "main", "default", (Guid?)workflow));
        var state = (await Fixture.QueryAsync<(string Status, string CurrentStage, long Progress)>(
            "SELECT status, current_stage, progress FROM delivery.import_sessions WHERE id = @Id", new { Id = response.SessionId })).Single();
        state.ShouldBe(("pending", "queued", 0L));
        (await Fixture.ScalarAsync<string>("SELECT resource_id FROM identity.audit_log WHERE action = 'delivery.import.analyze'")).ShouldBe(response.SessionId.ToString());
        (await Fixture.ScalarAsync<string>("SELECT branch FROM delivery.import_sessions WHERE id = @Id", new { Id = await GitSessionAsync(developer, branch: "release/1.2") })).ShouldBe("release/1.2");
    }

    [Fact]
    public async Task Analyzing_a_git_source_refuses_file_urls_and_another_users_workflow()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        var other = await Fixture.CreateUserAsync(BaseRole.Developer);
        var theirs = await WorkflowAsync(other, []);

        (await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(developer, new AnalyzeImport.Command("git_url", "file:///srv/repo", null, null, null, null, null))))
            .Details!.Keys.ShouldBe(["url"]);
        (await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(developer, new AnalyzeImport.Command("git_url", "-upload-pack=evil", null, null, null, null, null))))
            .Details!.Keys.ShouldBe(["url"]);
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(developer, new AnalyzeImport.Command("github", "https://github.com/acme/shop", null, null, null, null, theirs)));
        (await SessionCountAsync()).ShouldBe(0);
    }

    [Theory]
    [InlineData("svn", "https://x/y", null, null, null, null, "source")]
    [InlineData(null, "https://x/y", null, null, null, null, "source")]
    [InlineData("file", null, null, null, null, null, "fileContent")]
    [InlineData("gitlab", null, null, null, null, null, "url")]
    [InlineData("github", "https://x/y", "-evil", null, null, null, "branch")]
    [InlineData("github", "https://x/y", "main..other", null, null, null, "branch")]
    [InlineData("file", null, null, "c2VydmljZXM6IHt9", "compose.json", null, "fileName")]
    [InlineData("file", null, null, "c2VydmljZXM6IHt9", null, "Bad_NS", "namespace")]
    public async Task The_analyze_validator_names_each_bad_field(string? source, string? url, string? branch, string? content, string? fileName, string? ns, string field)
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);

        var failure = await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(developer, new AnalyzeImport.Command(source, url, branch, content, fileName, ns, null)));

        failure.Errors.Select(error => error.PropertyName).ShouldContain(field);
        (await SessionCountAsync()).ShouldBe(0);
    }

    [Fact]
    public async Task A_session_is_read_by_its_owner_only_with_its_analysis_and_log()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var id = await GitSessionAsync(developer);
        await Fixture.ExecuteAsync(
            """
            UPDATE delivery.import_sessions SET status = 'completed', current_stage = 'completed', progress = 100,
                analysis = '{"detectedType":"docker-compose","suggestedNodes":[]}', logs = '[{"stage":"cloning","message":"Cloning","level":"info"}]',
                completed_at = now()
            WHERE id = @Id
            """,
            new { Id = id });

        var response = await Fixture.SendAsAsync(developer, new GetImportSession.Query(id));

        var session = response.Session;
        session.Id.ShouldBe(id);
        session.UserId.ShouldBe(developer.Id);
        session.Source.ShouldBe("git_url");
        session.Url.ShouldBe("https://git.example.com/acme/shop.git");
        session.Namespace.ShouldBe("shop");
        session.Status.ShouldBe("completed");
        session.Progress.ShouldBe(100);
        session.Analysis!["detectedType"]!.GetValue<string>().ShouldBe("docker-compose");
        session.Logs!.AsArray().Single()!["stage"]!.GetValue<string>().ShouldBe("cloning");
        session.CompletedAt.ShouldNotBeNull();
        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetImportSession.Query(id)))).Message.ShouldBe("Import session not found");
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(developer, new GetImportSession.Query(Guid.CreateVersion7())));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(developer, new GetImportSession.Query(Guid.Empty)));
    }

    [Fact]
    public async Task A_pending_session_has_no_analysis_yet()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var id = await GitSessionAsync(viewer);

        var session = (await Fixture.SendAsAsync(viewer, new GetImportSession.Query(id))).Session;

        session.Status.ShouldBe("pending");
        session.Analysis.ShouldBeNull();
        session.Logs!.AsArray().ShouldBeEmpty();
        session.CompletedAt.ShouldBeNull();
    }

    [Fact]
    public async Task The_stream_opens_only_the_callers_session()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        var other = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var id = await GitSessionAsync(developer);
        await Fixture.ExecuteAsync("UPDATE delivery.import_sessions SET status = 'failed', error_message = 'clone failed', error_stage = 'cloning' WHERE id = @Id", new { Id = id });

        var row = await Fixture.SendAsAsync(developer, new StreamImport.Query(id));

        row.Id.ShouldBe(id);
        row.UserId.ShouldBe(developer.Id);
        row.Status.ShouldBe("failed");
        row.IsTerminal.ShouldBeTrue();
        row.ErrorMessage.ShouldBe("clone failed");
        row.ErrorStage.ShouldBe("cloning");
        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(other, new StreamImport.Query(id)))).Message.ShouldBe("Import session not found");
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(developer, new StreamImport.Query(Guid.Empty)));
    }

    [Fact]
    public async Task An_analysis_becomes_a_draft_workflow_at_its_layout_with_version_one_and_an_audit_row()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        var analysis = ComposeImport.Analyze(Compose, "shop");
        var firstId = NodesOf(analysis).First()["id"]!.GetValue<string>();
        analysis["layoutPositions"]![firstId] = new JsonObject { ["x"] = 1234, ["y"] = 56 };

        var response = await Fixture.SendAsAsync(developer, new CreateWorkflowFromImport.Command { Name = " imported shop ", Analysis = analysis });

        response.Message.ShouldBe("Workflow created successfully from import");
        var workflow = response.Workflow;
        workflow.Name.ShouldBe("imported shop");
        workflow.Status.ShouldBe("draft");
        workflow.Description.ShouldBe("Imported from docker-compose");
        workflow.Tags.ShouldBe(["imported", "docker-compose"]);
        workflow.ClusterId.ShouldBe(string.Empty);
        workflow.CurrentVersion.ShouldBe(1);
        workflow.Nodes!.AsArray().Select(node => node!["id"]!.GetValue<string>()).ShouldBe(NodesOf(analysis).Select(node => node["id"]!.GetValue<string>()));
        workflow.Edges!.AsArray().Count.ShouldBe(analysis["suggestedEdges"]!.AsArray().Count);
        var placed = workflow.Nodes!.AsArray().Single(node => node!["id"]!.GetValue<string>() == firstId)!;
        placed["position"]!["x"]!.GetValue<double>().ShouldBe(1234);
        (await Fixture.ScalarAsync<Guid>("SELECT owner_id FROM delivery.workflows WHERE id = @Id", new { workflow.Id })).ShouldBe(developer.Id);
        (await Fixture.ScalarAsync<long>("SELECT jsonb_array_length(nodes) FROM delivery.workflow_versions WHERE workflow_id = @Id AND version = 1", new { workflow.Id }))
            .ShouldBe(workflow.Nodes!.AsArray().Count);
        (await Fixture.ScalarAsync<string>("SELECT resource_id FROM identity.audit_log WHERE action = 'delivery.import.create_workflow'")).ShouldBe(workflow.Id.ToString());
    }

    [Fact]
    public async Task A_workflow_from_an_import_may_name_a_visible_cluster_and_keeps_the_detected_type()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        await Fixture.ExecuteAsync(
            """
            INSERT INTO clusters.clusters (id, name, server, auth_type, credentials, scope, status)
            VALUES (@Id, 'prod', 'https://127.0.0.1:1', 'token', '\x00'::bytea, 'platform', 'connected')
            """,
            new { Id = Guid.CreateVersion7() });
        var analysis = new JsonObject { ["detectedType"] = "node", ["suggestedNodes"] = new JsonArray(Node("app", "deployment", "app")) };

        var workflow = (await Fixture.SendAsAsync(developer, new CreateWorkflowFromImport.Command { ClusterId = "prod", Name = "app", Analysis = analysis })).Workflow;

        workflow.ClusterId.ShouldBe("prod");
        workflow.Description.ShouldBe("Imported from node");
        workflow.Tags.ShouldBe(["imported", "node"]);
        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(developer, new CreateWorkflowFromImport.Command { ClusterId = "nowhere", Name = "x", Analysis = analysis })))
            .Message.ShouldBe("Cluster 'nowhere' not found");
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM delivery.workflows")).ShouldBe(1);
    }

    [Fact]
    public async Task Creating_from_an_import_validates_name_analysis_and_its_graph()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        var broken = new JsonObject
        {
            ["suggestedNodes"] = new JsonArray(Node("a", "deployment", "a")),
            ["suggestedEdges"] = new JsonArray(new JsonObject { ["id"] = "e", ["source"] = "a", ["target"] = "nowhere" }),
        };

        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(developer, new CreateWorkflowFromImport.Command { Analysis = new JsonObject() })))
            .Errors.Select(error => error.PropertyName).ShouldBe(["name"]);
        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(developer, new CreateWorkflowFromImport.Command { Name = "x" })))
            .Errors.Select(error => error.PropertyName).ShouldBe(["analysis"]);
        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(developer, new CreateWorkflowFromImport.Command { Name = "x", Analysis = broken })))
            .Errors.Select(error => error.PropertyName).ShouldBe(["analysis.suggestedEdges[0].target"]);
        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(developer, new CreateWorkflowFromImport.Command { Name = "x", ClusterId = new string('c', 101), Analysis = new JsonObject() })))
            .Errors.Select(error => error.PropertyName).ShouldBe(["clusterId"]);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM delivery.workflows")).ShouldBe(0);
    }

    [Fact]
    public async Task Applying_adds_the_nodes_and_edges_at_their_positions_to_the_callers_workflow()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        var id = await WorkflowAsync(developer, [Node("a", "configmap", "a")]);
        var nodes = new JsonArray(Node("redis", "statefulset", "redis"), Node("cache-svc", "service", "cache-svc"));
        var edges = new JsonArray(new JsonObject { ["id"] = "e-new", ["source"] = "cache-svc", ["target"] = "redis" });
        var positions = new JsonObject { ["redis"] = new JsonObject { ["x"] = 900, ["y"] = 40 } };

        var response = await Fixture.SendAsAsync(developer, new ApplyImport.Command(id, nodes, edges, positions));

        response.Message.ShouldBe("Import applied successfully");
        response.Workflow.Nodes!.AsArray().Select(node => node!["id"]!.GetValue<string>()).ShouldBe(["a", "redis", "cache-svc"]);
        response.Workflow.Edges!.AsArray().Single()!["id"]!.GetValue<string>().ShouldBe("e-new");
        var redis = response.Workflow.Nodes!.AsArray().Single(node => node!["id"]!.GetValue<string>() == "redis")!;
        redis["position"]!["x"]!.GetValue<double>().ShouldBe(900);
        (await Fixture.ScalarAsync<long>("SELECT jsonb_array_length(nodes) FROM delivery.workflows WHERE id = @Id", new { Id = id })).ShouldBe(3);
        (await Fixture.ScalarAsync<string>("SELECT metadata::text FROM identity.audit_log WHERE action = 'delivery.import.apply' AND resource_id = @Id", new { Id = id.ToString() }))
            .ShouldBe("""{"edges": 1, "nodes": 2}""");
    }

    [Fact]
    public async Task Applying_refuses_an_existing_node_or_edge_id_and_changes_nothing()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        var id = await WorkflowAsync(
            developer,
            [Node("a", "configmap", "a"), Node("b", "configmap", "b")],
            [new JsonObject { ["id"] = "e1", ["source"] = "a", ["target"] = "b" }]);

        (await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(developer, new ApplyImport.Command(id, new JsonArray(Node("a", "configmap", "again")), null, null))))
            .Message.ShouldBe("The workflow already has a node 'a'");
        (await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(developer, new ApplyImport.Command(
                id,
                new JsonArray(Node("c", "configmap", "c"), Node("d", "configmap", "d")),
                new JsonArray(new JsonObject { ["id"] = "e1", ["source"] = "c", ["target"] = "d" }),
                null))))
            .Message.ShouldBe("The workflow already has an edge 'e1'");
        (await Fixture.ScalarAsync<long>("SELECT jsonb_array_length(nodes) FROM delivery.workflows WHERE id = @Id", new { Id = id })).ShouldBe(2);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.audit_log WHERE action = 'delivery.import.apply'")).ShouldBe(0);
    }

    [Fact]
    public async Task Applying_validates_its_fields_and_finds_only_the_callers_workflow()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        var other = await Fixture.CreateUserAsync(BaseRole.Developer);
        var id = await WorkflowAsync(developer, []);
        var nodes = new JsonArray(Node("x", "configmap", "x"));

        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(developer, new ApplyImport.Command(null, nodes.DeepClone(), null, null))))
            .Errors.Select(error => error.PropertyName).ShouldBe(["workflowId"]);
        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(developer, new ApplyImport.Command(id, null, null, null))))
            .Errors.Select(error => error.PropertyName).ShouldBe(["nodes"]);
        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(developer, new ApplyImport.Command(id, nodes.DeepClone(), new JsonArray(new JsonObject { ["source"] = "x", ["target"] = "y" }), null))))
            .Errors.Select(error => error.PropertyName).ShouldBe(["edges[0].target"]);
        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(developer, new ApplyImport.Command(id, JsonValue.Create("x"), null, null))))
            .Errors.Select(error => error.PropertyName).ShouldBe(["nodes"]);
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(other, new ApplyImport.Command(id, nodes.DeepClone(), null, null)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(developer, new ApplyImport.Command(Guid.CreateVersion7(), nodes.DeepClone(), null, null)));
        (await Fixture.ScalarAsync<long>("SELECT jsonb_array_length(nodes) FROM delivery.workflows WHERE id = @Id", new { Id = id })).ShouldBe(0);
    }
}
