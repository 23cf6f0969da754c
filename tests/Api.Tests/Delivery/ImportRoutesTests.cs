using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;

namespace Capstan.Api.Tests.Delivery;

/// <summary>Import: analyze (file at once, Git in the background with progress), upload, apply, create-workflow,
/// session and its stream.</summary>
public sealed class ImportRoutesTests(DeliveryFixture fixture, FakeKubernetesFixture fake) : DeliveryTest(fixture, fake)
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

    private static MultipartFormDataContent Upload(string fileName, byte[] content, string? @namespace = null)
    {
        var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(content);
        file.Headers.ContentType = new MediaTypeHeaderValue("application/x-yaml");
        form.Add(file, "file", fileName);
        if (@namespace is not null)
        {
            form.Add(new StringContent(@namespace), "namespace");
        }

        return form;
    }

    [Fact]
    public async Task Analyze_a_file_answers_the_analysis_at_once()
    {
        var (client, _) = await DeveloperAsync();

        var body = await (await client.PostAsJsonAsync("/v1/api/import/analyze", new { source = "file", fileContent = Base64(Compose), fileName = "docker-compose.yml", @namespace = "shop" })).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["async", "analysis"]);
        body.GetProperty("async").GetBoolean().ShouldBeFalse();
        var analysis = body.GetProperty("analysis");
        foreach (var field in new[] { "detectedType", "services", "volumes", "networks", "warnings", "errors", "suggestedNodes", "suggestedEdges", "layoutPositions", "needsBuild" })
        {
            analysis.PropertyNames().ShouldContain(field);
        }

        analysis.GetProperty("services").GetArrayLength().ShouldBe(2);
        analysis.GetProperty("suggestedNodes").EnumerateArray().Select(node => node.GetProperty("type").GetString()).Order()
            .ShouldBe(["configmap", "deployment", "persistentvolumeclaim", "secret", "service", "statefulset"]);
        body.ToString().ShouldNotContain("t0ken-value");
    }

    [Theory]
    [InlineData("""{"source":"ftp"}""", "source")]
    [InlineData("""{"source":"file"}""", "fileContent")]
    [InlineData("""{"source":"file","fileContent":"%%%not base64"}""", "fileContent")]
    [InlineData("""{"source":"git_url"}""", "url")]
    [InlineData("""{"source":"file","fileContent":"c2VydmljZXM6IFthLCBi","namespace":"Bad_NS"}""", "namespace")]
    public async Task Analyze_validates_each_field(string json, string field)
    {
        var (client, _) = await DeveloperAsync();

        var error = await (await client.PostAsync("/v1/api/import/analyze", new StringContent(json, Encoding.UTF8, "application/json"))).ShouldBeErrorAsync(HttpStatusCode.BadRequest);

        error.GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue(error.ToString());
    }

    [Fact]
    public async Task Invalid_yaml_and_unknown_keys_are_400_and_a_big_file_413()
    {
        var (client, _) = await DeveloperAsync();

        var invalid = await (await client.PostAsJsonAsync("/v1/api/import/analyze", new { source = "file", fileContent = Base64("services: [a, b") })).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        var unknown = await (await client.PostAsJsonAsync("/v1/api/import/analyze", new { source = "file", fileContent = Base64("services:\n  a:\n    image: x\n    imagee: y\n") })).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        var big = await client.PostAsJsonAsync("/v1/api/import/analyze", new { source = "file", fileContent = Base64("services:\n  a:\n    image: x\n#" + new string('x', 1 << 20)) });

        invalid.GetProperty("details").TryGetProperty("file", out _).ShouldBeTrue();
        unknown.GetProperty("details").TryGetProperty("services.a.imagee", out _).ShouldBeTrue();
        await big.ShouldBeErrorAsync(HttpStatusCode.RequestEntityTooLarge);
    }

    [Fact]
    public async Task Upload_reads_a_multipart_compose_file()
    {
        var (client, _) = await DeveloperAsync();
        var bytes = Encoding.UTF8.GetBytes(Compose);

        var body = await (await client.PostAsync("/v1/api/import/upload", Upload("compose.yaml", bytes, "shop"))).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["analysis", "fileName", "fileSize", "fileContent"]);
        body.GetProperty("fileName").GetString().ShouldBe("compose.yaml");
        body.GetProperty("fileSize").GetInt64().ShouldBe(bytes.Length);
        body.GetProperty("fileContent").GetString().ShouldBe(Convert.ToBase64String(bytes));
        body.GetProperty("analysis").GetProperty("suggestedNodes").EnumerateArray().First().GetProperty("data").GetProperty("namespace").GetString().ShouldBe("shop");
    }

    [Fact]
    public async Task Upload_refuses_other_files_no_file_invalid_yaml_and_big_files()
    {
        var (client, _) = await DeveloperAsync();

        (await (await client.PostAsync("/v1/api/import/upload", Upload("compose.json", Encoding.UTF8.GetBytes(Compose)))).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("message").GetString()!.ShouldContain("Only .yml and .yaml");
        await (await client.PostAsync("/v1/api/import/upload", new MultipartFormDataContent { { new StringContent("x"), "namespace" } })).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await client.PostAsync("/v1/api/import/upload", Upload("c.yml", Encoding.UTF8.GetBytes("services:\n  a:\n    image: x\nbogus: 1\n")))).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await client.PostAsync("/v1/api/import/upload", Upload("c.yml", new byte[(1 << 20) + 10]))).ShouldBeErrorAsync(HttpStatusCode.RequestEntityTooLarge);

        // A body whose parts do not follow the declared boundary is malformed input (400), not a server fault.
        var broken = new ByteArrayContent("--nope\r\nContent-Disposition: form-data; name=\"file\"; filename=\"c.yml\"\r\n\r\nxx"u8.ToArray());
        broken.Headers.TryAddWithoutValidation("Content-Type", "multipart/form-data; boundary=other");
        (await (await client.PostAsync("/v1/api/import/upload", broken)).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("message").GetString()!.ShouldStartWith("Malformed multipart body");
    }

    [Fact]
    public async Task Create_workflow_from_an_analysis_then_apply_another_to_it()
    {
        await RegisterClusterAsync();
        var (client, _) = await DeveloperAsync();
        var analysis = (await (await client.PostAsJsonAsync("/v1/api/import/analyze", new { source = "file", fileContent = Base64(Compose) })).ShouldBeJsonAsync()).GetProperty("analysis");

        var created = await (await client.PostAsJsonAsync("/v1/api/import/create-workflow", new JsonObject
        {
            ["name"] = "imported shop",
            ["clusterId"] = "prod",
            ["analysis"] = JsonNode.Parse(analysis.GetRawText()),
        })).ShouldBeJsonAsync();

        created.PropertyNames().ShouldBe(["workflow", "message"]);
        created.GetProperty("message").GetString().ShouldBe("Workflow created successfully from import");
        var workflow = created.GetProperty("workflow");
        workflow.GetProperty("status").GetString().ShouldBe("draft");
        workflow.GetProperty("description").GetString().ShouldBe("Imported from docker-compose");
        workflow.GetProperty("tags").EnumerateArray().Select(tag => tag.GetString()).ShouldBe(["imported", "docker-compose"]);
        workflow.GetProperty("nodes").GetArrayLength().ShouldBe(analysis.GetProperty("suggestedNodes").GetArrayLength());
        var id = workflow.GetProperty("id").GetGuid();

        var extra = new JsonArray(Node("redis", "statefulset", new { name = "redis", image = "redis:7", serviceName = "redis" }));
        var applied = await (await client.PostAsJsonAsync("/v1/api/import/apply", new JsonObject
        {
            ["workflowId"] = id.ToString(),
            ["nodes"] = extra,
            ["edges"] = new JsonArray(),
            ["positions"] = new JsonObject { ["redis"] = new JsonObject { ["x"] = 900, ["y"] = 40 } },
        })).ShouldBeJsonAsync();

        applied.GetProperty("message").GetString().ShouldBe("Import applied successfully");
        var redis = applied.GetProperty("workflow").GetProperty("nodes").EnumerateArray().Single(node => node.GetProperty("id").GetString() == "redis");
        redis.GetProperty("position").GetProperty("x").GetDouble().ShouldBe(900);
        applied.GetProperty("workflow").GetProperty("nodes").GetArrayLength().ShouldBe(analysis.GetProperty("suggestedNodes").GetArrayLength() + 1);

        (await (await client.PostAsJsonAsync("/v1/api/import/apply", new JsonObject { ["workflowId"] = id.ToString(), ["nodes"] = extra.DeepClone() })).ShouldBeErrorAsync(HttpStatusCode.Conflict))
            .GetProperty("message").GetString().ShouldBe("The workflow already has a node 'redis'");
    }

    [Fact]
    public async Task Create_workflow_and_apply_validate()
    {
        var (client, _) = await DeveloperAsync();

        (await (await client.PostAsJsonAsync("/v1/api/import/create-workflow", new { clusterId = "prod", analysis = new { } })).ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty("name", out _).ShouldBeTrue();
        (await (await client.PostAsJsonAsync("/v1/api/import/create-workflow", new { name = "x" })).ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty("analysis", out _).ShouldBeTrue();
        await (await client.PostAsJsonAsync("/v1/api/import/create-workflow", new { name = "x", clusterId = "nowhere", analysis = new { suggestedNodes = Array.Empty<object>() } })).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        (await (await client.PostAsJsonAsync("/v1/api/import/apply", new { nodes = Array.Empty<object>() })).ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty("workflowId", out _).ShouldBeTrue();
        await (await client.PostAsJsonAsync("/v1/api/import/apply", new { workflowId = Guid.CreateVersion7(), nodes = Array.Empty<object>() })).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task A_git_import_runs_in_the_background_with_progress_on_its_stream()
    {
        var (client, _) = await DeveloperAsync();
        var repository = GitRepository(("docker-compose.yml", Compose));
        try
        {
            var started = await (await client.PostAsJsonAsync("/v1/api/import/analyze", new { source = "git_url", url = "file://" + repository, branch = "main" })).ShouldBeJsonAsync();

            started.PropertyNames().ShouldBe(["async", "sessionId", "message"]);
            started.GetProperty("async").GetBoolean().ShouldBeTrue();
            var session = started.GetProperty("sessionId").GetGuid();
            using var stream = await OpenSseAsync(client, $"/v1/api/import/{session}/stream");
            (await stream.NextAsync(Patience))!.Event.ShouldBe("metadata");
            var complete = await stream.NextAsync("complete", Patience);
            complete.Data.ShouldContain("suggestedNodes");

            var stored = await (await client.GetAsync($"/v1/api/import/{session}")).ShouldBeJsonAsync();
            stored.PropertyNames().ShouldBe(["session"]);
            var fields = stored.GetProperty("session");
            fields.GetProperty("status").GetString().ShouldBe("completed");
            fields.GetProperty("progress").GetInt64().ShouldBe(100);
            foreach (var field in new[] { "id", "userId", "source", "url", "branch", "status", "currentStage", "progress", "analysis", "createdAt", "completedAt" })
            {
                fields.PropertyNames().ShouldContain(field);
            }

            // A finished session's stream answers at once: metadata, then complete.
            using var again = await OpenSseAsync(client, $"/v1/api/import/{session}/stream");
            (await again.NextAsync(Patience))!.Event.ShouldBe("metadata");
            (await again.NextAsync(Patience))!.Event.ShouldBe("complete");
        }
        finally
        {
            Directory.Delete(repository, recursive: true);
        }
    }

    [Fact]
    public async Task A_git_import_without_compose_detects_the_project_and_a_bad_repository_fails()
    {
        var (client, _) = await DeveloperAsync();
        var repository = GitRepository(("package.json", """{"name":"app","scripts":{"start":"node index.js"}}"""), ("index.js", "console.log(1)"));
        try
        {
            var session = (await (await client.PostAsJsonAsync("/v1/api/import/analyze", new { source = "git_url", url = "file://" + repository })).ShouldBeJsonAsync()).GetProperty("sessionId").GetGuid();
            var missing = (await (await client.PostAsJsonAsync("/v1/api/import/analyze", new { source = "git_url", url = "file:///nonexistent/repo" })).ShouldBeJsonAsync()).GetProperty("sessionId").GetGuid();

            await WaitUntilAsync(async () => (await Fixture.ScalarAsync<string>("SELECT status FROM delivery.import_sessions WHERE id = @Id", new { Id = session })) is "completed" or "failed", "the analysis");
            await WaitUntilAsync(async () => (await Fixture.ScalarAsync<string>("SELECT status FROM delivery.import_sessions WHERE id = @Id", new { Id = missing })) is "completed" or "failed", "the failure");

            var analysis = (await (await client.GetAsync($"/v1/api/import/{session}")).ShouldBeJsonAsync()).GetProperty("session").GetProperty("analysis");
            analysis.GetProperty("needsBuild").GetBoolean().ShouldBeTrue();
            analysis.GetProperty("sourceBuildConfig").GetProperty("repoUrl").GetString().ShouldBe("file://" + repository);
            var failed = (await (await client.GetAsync($"/v1/api/import/{missing}")).ShouldBeJsonAsync()).GetProperty("session");
            failed.GetProperty("status").GetString().ShouldBe("failed");
            failed.GetProperty("errorMessage").GetString().ShouldNotBeNullOrEmpty();
            using var stream = await OpenSseAsync(client, $"/v1/api/import/{missing}/stream");
            (await stream.NextAsync(Patience))!.Event.ShouldBe("metadata");
            (await stream.NextAsync(Patience))!.Event.ShouldBe("failed");
        }
        finally
        {
            Directory.Delete(repository, recursive: true);
        }
    }

    private static string GitRepository(params (string Path, string Content)[] files)
    {
        var directory = Path.Combine(Path.GetTempPath(), "capstan-import-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(directory);
        foreach (var (path, content) in files)
        {
            File.WriteAllText(Path.Combine(directory, path), content);
        }

        foreach (var arguments in new[] { "init -q -b main", "add -A", "-c user.email=t@example.com -c user.name=t commit -q -m init" })
        {
            using var git = Process.Start(new ProcessStartInfo("git", arguments) { WorkingDirectory = directory, RedirectStandardError = true, RedirectStandardOutput = true })!;
            git.WaitForExit();
            git.ExitCode.ShouldBe(0, git.StandardError.ReadToEnd());
        }

        return directory;
    }
}
