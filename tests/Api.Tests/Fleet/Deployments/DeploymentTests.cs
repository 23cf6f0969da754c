using System.Net;
using System.Text;
using Capstan.Features.Fleet.Deployments;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Api.Tests.Fleet.Deployments;

public sealed class DeploymentTests(FleetFixture fixture) : FleetTest(fixture)
{
    private const string Yaml = """
        version: "3.0"
        name: dev-env
        deployment:
          provider: fly
          resources:
            memory: 4GB
        extensions:
          profile: minimal
          active: [python, git]
        secrets:
          - name: API_TOKEN
            source: env
        env:
          EDITOR: vim
        """;

    private static readonly string[] DeploymentFields =
    [
        "id", "name", "instance_id", "template_id", "config_hash", "yaml_content", "provider", "region", "vm_size", "memory_gb", "storage_gb", "status",
        "progress_percent", "initiated_by", "started_at", "completed_at", "logs", "error",
    ];

    [Fact]
    public async Task A_deployment_is_created_pending_and_the_runner_deploys_it_with_the_cli()
    {
        var (client, user) = await Fixture.ClientAsAsync(BaseRole.Viewer);

        var response = await client.PostJsonAsync("/api/v1/deployments", new
        {
            name = "dev-env",
            provider = "fly",
            region = "sea",
            vm_size = "large",
            memory_gb = 8,
            yaml_config = Yaml,
            secrets = new Dictionary<string, string> { ["API_TOKEN"] = "tok-123" },
        });

        var created = await response.ShouldBeJsonAsync(HttpStatusCode.Created);
        created.PropertyNames().ShouldBe(["deployment"]);
        var deployment = created.GetProperty("deployment");
        deployment.PropertyNames().ShouldBe(DeploymentFields);
        deployment.GetProperty("status").GetString().ShouldBe("PENDING");
        deployment.GetProperty("vm_size").GetString().ShouldBe("large");
        deployment.GetProperty("memory_gb").GetInt32().ShouldBe(8);
        deployment.GetProperty("storage_gb").GetInt32().ShouldBe(20);
        deployment.GetProperty("initiated_by").GetGuid().ShouldBe(user.Id);
        deployment.GetProperty("config_hash").GetString()!.Length.ShouldBe(64);
        var id = deployment.GetProperty("id").GetGuid();
        var instanceId = deployment.GetProperty("instance_id").GetGuid();
        (await Fixture.ScalarAsync<string>("SELECT status FROM fleet.instances WHERE id = @Id", new { Id = instanceId })).ShouldBe("DEPLOYING");
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.deployments WHERE secrets_sealed IS NOT NULL AND position('tok-123' in encode(secrets_sealed, 'escape')) = 0")).ShouldBe(1);

        (await Fixture.Services.GetRequiredService<DeploymentRunner>().TryRunAsync(CancellationToken.None)).ShouldBeTrue();

        var done = (await (await client.GetAsync($"/api/v1/deployments/{id}")).ShouldBeJsonAsync()).GetProperty("deployment");
        done.GetProperty("status").GetString().ShouldBe("SUCCEEDED");
        done.GetProperty("progress_percent").GetInt32().ShouldBe(100);
        done.GetProperty("logs").GetString()!.ShouldContain("deployed name: dev-env");
        done.GetProperty("logs").GetString()!.ShouldContain("api token received");
        done.GetProperty("logs").GetString()!.ShouldNotContain("tok-123");
        (await Fixture.ScalarAsync<bool>("SELECT secrets_sealed IS NULL FROM fleet.deployments WHERE id = @Id", new { Id = id })).ShouldBeTrue();
        (await Fixture.ScalarAsync<string>("SELECT status FROM fleet.instances WHERE id = @Id", new { Id = instanceId })).ShouldBe("RUNNING");
        (await Fixture.ScalarAsync<string>("SELECT event_type FROM fleet.instance_events WHERE instance_id = @Id", new { Id = instanceId })).ShouldBe("DEPLOY");
    }

    [Fact]
    public async Task A_failing_cli_fails_the_deployment_and_the_instance()
    {
        var client = await As(BaseRole.Viewer);
        var deployment = (await (await client.PostJsonAsync("/api/v1/deployments", new
        {
            name = "broken",
            provider = "docker",
            region = "local",
            yamlConfig = "name: broken\nnotes: fail-me\n",
        })).ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("deployment");

        await Fixture.Services.GetRequiredService<DeploymentRunner>().TryRunAsync(CancellationToken.None);

        var failed = (await (await client.GetAsync($"/api/v1/deployments/{deployment.GetProperty("id").GetGuid()}")).ShouldBeJsonAsync()).GetProperty("deployment");
        failed.GetProperty("status").GetString().ShouldBe("FAILED");
        failed.GetProperty("error").GetString().ShouldBe("error: provider quota exceeded");
        (await Fixture.ScalarAsync<string>("SELECT status FROM fleet.instances WHERE id = @Id", new { Id = deployment.GetProperty("instance_id").GetGuid() })).ShouldBe("ERROR");
    }

    [Theory]
    [InlineData("name: ok\ndeployment: x: y\n", 2, "yaml_config")]
    [InlineData("name: ok\nextensions:\n  active: python\n", 3, "yaml_config")]
    [InlineData("- just\n- a list\n", 1, "yaml_config")]
    [InlineData("name: ok\ndeployment:\n  provider: mainframe\n", 3, "yaml_config")]
    [InlineData("name: ok\nsecrets:\n  - name: GOOD\n  - name: DATABASE_URL\n", 4, "yaml_config")]
    [InlineData("name: ok\nenv:\n  EDITOR: vim\n  SINDRI_CONSOLE_API_KEY: x\n", 4, "yaml_config")]
    public async Task Invalid_yaml_is_400_with_the_line_of_the_problem(string yaml, int line, string field)
    {
        var client = await As(BaseRole.Viewer);

        var response = await client.PostJsonAsync("/api/v1/deployments", new { name = "bad", provider = "fly", region = "sea", yaml_config = yaml });

        var error = await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        error.GetProperty("message").GetString()!.ShouldStartWith($"Invalid YAML at line {line},");
        error.GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue();
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.deployments")).ShouldBe(0);
    }

    [Theory]
    [InlineData("{\"provider\":\"fly\",\"region\":\"sea\",\"yaml_config\":\"name: x\"}", "name")]
    [InlineData("{\"name\":\"Bad_Name\",\"provider\":\"fly\",\"region\":\"sea\",\"yaml_config\":\"name: x\"}", "name")]
    [InlineData("{\"name\":\"x\",\"provider\":\"aws\",\"region\":\"sea\",\"yaml_config\":\"name: x\"}", "provider")]
    [InlineData("{\"name\":\"x\",\"provider\":\"fly\",\"yaml_config\":\"name: x\"}", "region")]
    [InlineData("{\"name\":\"x\",\"provider\":\"fly\",\"region\":\"sea\"}", "yaml_config")]
    [InlineData("{\"name\":\"x\",\"provider\":\"fly\",\"region\":\"sea\",\"yaml_config\":\"name: x\",\"memory_gb\":0}", "memory_gb")]
    [InlineData("{\"name\":\"x\",\"provider\":\"fly\",\"region\":\"sea\",\"yaml_config\":\"name: x\",\"template_id\":\"0195a0d0-0000-7000-8000-000000000001\"}", "template_id")]
    public async Task Bad_bodies_are_400(string json, string field)
    {
        var client = await As(BaseRole.Viewer);

        var response = await client.PostAsync("/api/v1/deployments", new StringContent(json, Encoding.UTF8, "application/json"));

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue();
    }

    [Fact]
    public async Task A_reserved_secret_is_400_and_audited_as_denied()
    {
        var client = await As(BaseRole.Viewer);

        var response = await client.PostJsonAsync("/api/v1/deployments", new
        {
            name = "sneaky",
            provider = "fly",
            region = "sea",
            yaml_config = "name: sneaky",
            secrets = new Dictionary<string, string> { ["postgres_password"] = "x" },
        });

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty("secrets", out _).ShouldBeTrue();
        (await Fixture.ScalarAsync<string>("SELECT result FROM identity.audit_log WHERE action = 'deployment.reserved_secret'")).ShouldBe("denied");
    }

    [Fact]
    public async Task A_live_instance_of_the_same_name_is_409_but_a_stopped_one_is_taken_over()
    {
        await SeedInstanceAsync("busy-name");
        var stopped = await SeedInstanceAsync("stopped-name", status: "STOPPED");
        var client = await As(BaseRole.Viewer);

        (await (await client.PostJsonAsync("/api/v1/deployments", new { name = "busy-name", provider = "fly", region = "sea", yaml_config = "name: busy-name" }))
            .ShouldBeErrorAsync(HttpStatusCode.Conflict)).GetProperty("message").GetString().ShouldBe("Instance 'busy-name' already exists with status RUNNING");
        var taken = await (await client.PostJsonAsync("/api/v1/deployments", new { name = "stopped-name", provider = "fly", region = "sea", yaml_config = "name: stopped-name" }))
            .ShouldBeJsonAsync(HttpStatusCode.Created);
        taken.GetProperty("deployment").GetProperty("instance_id").GetGuid().ShouldBe(stopped);
    }

    [Fact]
    public async Task Without_the_sindri_cli_deployments_are_503()
    {
        await using var factory = new ApiFactory(Fixture.ConnectionString, new Dictionary<string, string?>(FleetFixture.Settings) { ["Sindri:CliPath"] = "/nonexistent/sindri" });
        await factory.WaitUntilReadyAsync();
        var user = await Fixture.CreateUserAsync(BaseRole.Viewer);
        using var client = factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", await Fixture.CreateApiKeyAsync(user));

        var response = await client.PostJsonAsync("/api/v1/deployments", new { name = "nowhere", provider = "fly", region = "sea", yaml_config = "name: nowhere" });

        (await response.ShouldBeErrorAsync(HttpStatusCode.ServiceUnavailable)).GetProperty("message").GetString()!.ShouldContain("Sindri:CliPath");
    }

    [Fact]
    public async Task An_unknown_deployment_is_404()
    {
        var client = await As(BaseRole.Viewer);

        await (await client.GetAsync($"/api/v1/deployments/{Guid.CreateVersion7()}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }
}
