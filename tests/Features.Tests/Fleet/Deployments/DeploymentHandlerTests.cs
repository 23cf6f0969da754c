using System.Security.Cryptography;
using System.Text;
using Capstan.Features.Fleet.Deployments;
using Capstan.Features.Tests.Fleet.Alerts;
using Capstan.Infrastructure.Crypto;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Features.Tests.Fleet.Deployments;

/// <summary>Deployments through the pipeline: created PENDING for a new or a stopped instance with their secrets
/// sealed, refused for a live instance, a reserved secret, a bad configuration or a missing CLI, and read back.</summary>
public sealed class DeploymentHandlerTests(FleetHandlerFixture fixture) : FleetHandlerTest(fixture)
{
    private const string Yaml = """
        name: dev-box
        deployment:
          provider: docker
        extensions:
          active: [nodejs]
        secrets:
          - name: API_TOKEN
        """;

    private static CreateDeployment.Command Deployment(string name = "dev-box") =>
        new() { Name = name, Provider = "Docker", Region = " us-east ", YamlConfig = Yaml };

    private Task<long> DeploymentCountAsync() => Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.deployments");

    private async Task<Guid> TemplateAsync()
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            "INSERT INTO fleet.deployment_templates (id, name, slug, category, yaml_content) VALUES (@Id, 'Dev', 'dev', 'dev', 'name: dev')", new { Id = id });
        return id;
    }

    [Fact]
    public async Task A_viewer_creates_a_pending_deployment_with_a_new_instance_and_sealed_secrets()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var template = await TemplateAsync();
        using var sindri = Fixture.SindriConfigured();

        var created = (await Fixture.SendAsAsync(viewer, Deployment() with
        {
            TemplateId = template,
            MemoryGb = 8,
            DockerHost = "tcp://docker.example.test:2376",
            Secrets = new Dictionary<string, string> { ["API_TOKEN"] = "tok-very-secret" },
        })).Deployment;

        (created.Name, created.Provider, created.Region, created.VmSize, created.MemoryGb, created.StorageGb, created.Status, created.ProgressPercent)
            .ShouldBe(("dev-box", "docker", "us-east", "medium", 8L, 20L, "PENDING", 0L));
        (created.TemplateId, created.InitiatedBy, created.CompletedAt, created.Error).ShouldBe(((Guid?)template, (Guid?)viewer.Id, (DateTime?)null, (string?)null));
        created.ConfigHash.ShouldBe(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Yaml))));
        created.YamlContent.ShouldBe(Yaml);

        var instance = await Fixture.QueryAsync<(string, string, string, string, Guid)>(
            "SELECT name, provider, region, status, created_by FROM fleet.instances WHERE id = @Id", new { Id = created.InstanceId });
        instance.ShouldBe([("dev-box", "docker", "us-east", "DEPLOYING", viewer.Id)]);
        var sealedSecrets = (await Fixture.ScalarAsync<byte[]>("SELECT secrets_sealed FROM fleet.deployments WHERE id = @Id", new { created.Id }))!;
        Encoding.UTF8.GetString(sealedSecrets).ShouldNotContain("tok-very-secret");
        Fixture.Services.GetRequiredService<EnvelopeCipher>().DecryptString(sealedSecrets, $"deployments:{created.Id}").ShouldBe("""{"API_TOKEN":"tok-very-secret"}""");
        var audit = (await Fixture.AuditAsync(created.Id.ToString())).ShouldHaveSingleItem();
        (audit.Action, audit.ActorId, audit.ResourceName).ShouldBe(("deployment.create", (Guid?)viewer.Id, "dev-box"));
        audit.Metadata.ShouldContain("\"extensions\": [\"nodejs\"]");
        audit.Metadata.ShouldNotContain("tok-very-secret");
    }

    [Fact]
    public async Task A_stopped_instance_of_the_name_is_taken_over_and_a_live_one_is_a_conflict()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var stopped = await InstanceAsync("old-box", "STOPPED");
        await InstanceAsync("busy-box", "RUNNING");
        await InstanceAsync("dev-box", "DESTROYED");
        using var sindri = Fixture.SindriConfigured();

        var takeOver = (await Fixture.SendAsAsync(viewer, Deployment("old-box"))).Deployment;
        var fresh = (await Fixture.SendAsAsync(viewer, Deployment("dev-box"))).Deployment;

        takeOver.InstanceId.ShouldBe(stopped);
        (await Fixture.QueryAsync<(string, string)>("SELECT status, provider FROM fleet.instances WHERE id = @Id", new { Id = stopped })).ShouldBe([("DEPLOYING", "docker")]);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.instances WHERE name = 'dev-box'")).ShouldBe(2);
        (await Fixture.ScalarAsync<string>("SELECT status FROM fleet.instances WHERE id = @Id", new { Id = fresh.InstanceId })).ShouldBe("DEPLOYING");

        await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(viewer, Deployment("busy-box")));
        (await DeploymentCountAsync()).ShouldBe(2);
        (await Fixture.ScalarAsync<string>("SELECT status FROM fleet.instances WHERE name = 'busy-box'")).ShouldBe("RUNNING");
    }

    [Fact]
    public async Task Invalid_deployments_are_refused_by_the_validator_and_nothing_is_stored()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        using var sindri = Fixture.SindriConfigured();
        CreateDeployment.Command[] invalid =
        [
            Deployment("Dev_Box"),
            Deployment(new string('a', 64)),
            Deployment() with { Provider = "aws" },
            Deployment() with { Region = "" },
            Deployment() with { VmSize = new string('v', 65) },
            Deployment() with { MemoryGb = 0 },
            Deployment() with { StorageGb = 16385 },
            Deployment() with { YamlConfig = "" },
            Deployment() with { YamlConfig = "name: x\n# " + new string('y', 65_536) },
            Deployment() with { DockerHost = new string('h', 257) },
            Deployment() with { Secrets = Enumerable.Range(0, 101).ToDictionary(i => $"S{i}", _ => "v") },
            Deployment() with { Secrets = new Dictionary<string, string> { [""] = "v" } },
        ];

        foreach (var command in invalid)
        {
            await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, command));
        }

        (await DeploymentCountAsync()).ShouldBe(0);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.instances")).ShouldBe(0);
    }

    [Fact]
    public async Task A_reserved_secret_is_refused_and_the_refusal_is_audited()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        using var sindri = Fixture.SindriConfigured();

        var refused = await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(viewer, Deployment() with
        {
            Secrets = new Dictionary<string, string> { ["API_TOKEN"] = "a", ["postgres_password"] = "b" },
        }));

        refused.Details!.Keys.ShouldBe(["secrets"]);
        (await DeploymentCountAsync()).ShouldBe(0);
        var audit = await Fixture.QueryAsync<(string, string, Guid)>(
            "SELECT action, result, actor_id FROM identity.audit_log WHERE action LIKE 'deployment.%'");
        audit.ShouldBe([("deployment.reserved_secret", "denied", viewer.Id)]);
    }

    [Fact]
    public async Task A_bad_configuration_or_unknown_template_is_a_bad_request_and_no_cli_is_unavailable()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        // Without the CLI configured the request is checked first, then refused.
        await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(viewer, Deployment() with { YamlConfig = "deployment:\n  provider: mars\n" }));
        await Should.ThrowAsync<ServiceUnavailableException>(() => Fixture.SendAsAsync(viewer, Deployment()));

        using (Fixture.SindriConfigured())
        {
            var yaml = await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(viewer, Deployment() with { YamlConfig = "name: [unclosed" }));
            yaml.Details!.Keys.ShouldBe(["yaml_config"]);
            var template = await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(viewer, Deployment() with { TemplateId = Guid.CreateVersion7() }));
            template.Details!.Keys.ShouldBe(["template_id"]);
        }

        (await DeploymentCountAsync()).ShouldBe(0);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.instances")).ShouldBe(0);
    }

    [Fact]
    public async Task A_viewer_reads_a_deployment_and_an_unknown_one_is_not_found()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        DeploymentView created;
        using (Fixture.SindriConfigured())
        {
            created = (await Fixture.SendAsAsync(viewer, Deployment())).Deployment;
            await Fixture.SendAsAsync(viewer, Deployment("other-box"));
        }

        await Fixture.ExecuteAsync(
            "UPDATE fleet.deployments SET status = 'FAILED', error = 'quota', logs = 'line 1', completed_at = now() WHERE id = @Id", new { created.Id });

        var read = (await Fixture.SendAsAsync(viewer, new GetDeployment.Query(created.Id))).Deployment;

        (read.Id, read.Name, read.InstanceId, read.Status, read.Error, read.Logs).ShouldBe((created.Id, "dev-box", created.InstanceId, "FAILED", "quota", "line 1"));
        read.CompletedAt.ShouldNotBeNull();
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetDeployment.Query(Guid.CreateVersion7())));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetDeployment.Query(Guid.Empty)));
    }
}
