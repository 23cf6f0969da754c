using System.Text;
using Capstan.Features.Access.Agents;
using Capstan.Features.Access.GitOps;
using Capstan.Features.Access.Jobs;
using Capstan.Features.Access.Projects;
using Capstan.Features.Access.Secrets;
using Capstan.Infrastructure.Crypto;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;
using MediatR;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Features.Tests.Access;

/// <summary>The thinner slices at handler level: revocation, manual jobs, tenancy status, the secret catalog and the
/// ArgoCD endpoint's token at rest.</summary>
public sealed class CatalogHandlerTests(AccessHandlerFixture fixture) : AccessHandlerTest(fixture)
{
    [Fact]
    public async Task Revoking_an_agent_releases_its_claims_and_is_repeatable()
    {
        var admin = CallerOf(await Fixture.CreateUserAsync(BaseRole.Admin));
        var (agent, _) = await CreateAgentAsync();
        await SendAsync(admin, new EnqueueJob.Command("sync", null, null, null, null));
        await SendAsAgentAsync(agent, new ClaimJob.Command());

        (await SendAsync(admin, new RevokeAgent.Command(agent.Id, "gone"))).ShouldBe(Unit.Value);
        await SendAsync(admin, new RevokeAgent.Command(agent.Id, null));

        (await Fixture.ScalarAsync<string>("SELECT status FROM access.jobs")).ShouldBe("queued");
        (await Fixture.ScalarAsync<string>("SELECT status FROM access.agents")).ShouldBe("revoked");
        await Should.ThrowAsync<NotFoundException>(() => SendAsync(admin, new RevokeAgent.Command(Guid.NewGuid(), null)));
        (await SendAsync(admin, new ListAgents.Query())).Single().Status.ShouldBe("revoked");
    }

    [Fact]
    public async Task Manual_jobs_default_their_correlation_and_refuse_request_jobs()
    {
        var admin = CallerOf(await Fixture.CreateUserAsync(BaseRole.Admin));
        var requestId = Guid.CreateVersion7();

        var job = await SendAsync(admin, new EnqueueJob.Command("verify", null, null, null, null));

        job.CorrelationId.ShouldNotBe(Guid.Empty);
        job.CorrelationId.ShouldNotBe(job.Id);
        await Should.ThrowAsync<ValidationException>(() => SendAsync(admin, new EnqueueJob.Command("reboot", null, null, null, null)));
        await Should.ThrowAsync<BadRequestException>(() => SendAsync(admin, new EnqueueJob.Command("sync", null, null, requestId, null)));
    }

    [Fact]
    public async Task Project_status_moves_between_active_and_archived_only()
    {
        var caller = CallerOf(await Fixture.CreateUserAsync(BaseRole.Viewer));
        var project = await SendAsync(caller, new CreateProject.Command("p", "team", "archived"));

        project.Status.ShouldBe("archived");
        await SendAsync(caller, new SetProjectStatus.Command(project.Id, "active"));
        (await SendAsync(caller, new GetProject.Query(project.Id))).Status.ShouldBe("active");
        await Should.ThrowAsync<ValidationException>(() => SendAsync(caller, new SetProjectStatus.Command(project.Id, "deleted")));
        await Should.ThrowAsync<NotFoundException>(() => SendAsync(caller, new SetProjectStatus.Command(Guid.NewGuid(), "active")));
        (await SendAsync(caller, new ListProjects.Query("active"))).Count.ShouldBe(1);
    }

    [Fact]
    public async Task The_secret_catalog_escapes_prefixes_and_combines_label_filters()
    {
        var viewer = CallerOf(await Fixture.CreateUserAsync(BaseRole.Viewer));
        await Fixture.ExecuteAsync(
            """
            INSERT INTO access.discovered_secrets (id, cluster_name, provider_type, secret_ref, labels) VALUES
                (platform.uuid_v7(), 'c', 'vault', 'a%b/1', '{"team": "x", "env": "prod"}'),
                (platform.uuid_v7(), 'c', 'vault', 'aXb/2', '{"team": "x"}'),
                (platform.uuid_v7(), 'd', 'vault', 'a%b/3', '{}')
            """);

        (await SendAsync(viewer, new ListSecrets.Query(null, null, "a%b", null, null, [], null, null))).Total.ShouldBe(2);
        (await SendAsync(viewer, new ListSecrets.Query("c", "vault", null, null, "discovered", ["team:x", "env:prod"], null, null))).Items.Single().SecretRef.ShouldBe("a%b/1");
        (await SendAsync(viewer, new ListSecrets.Query(null, null, null, "present", null, ["team:x"], 1, 1))).Items.Single().SecretRef.ShouldBe("aXb/2");
        var id = (await SendAsync(viewer, new ListSecrets.Query(null, null, null, null, null, [], null, null))).Items[0].Id;
        (await SendAsync(viewer, new GetSecret.Query(id))).Source.ShouldBe("discovered");
        await Should.ThrowAsync<NotFoundException>(() => SendAsync(viewer, new GetSecret.Query(Guid.NewGuid())));
        await Should.ThrowAsync<ForbiddenException>(() => SendAsync(viewer with { Permissions = new HashSet<string>() }, new ListSecrets.Query(null, null, null, null, null, [], null, null)));
    }

    [Fact]
    public async Task The_secret_catalog_pages_by_page_and_hides_vault_secrets_of_other_teams()
    {
        var viewer = CallerOf(await Fixture.CreateUserAsync(BaseRole.Viewer));
        var team = Guid.NewGuid();
        var instance = Guid.NewGuid();
        await Fixture.ExecuteAsync(
            """
            INSERT INTO fleet.instances (id, name, provider, region, status, team_id) VALUES (@Instance, 'team-box', 'fly', 'sea', 'RUNNING', @Team);
            INSERT INTO fleet.vault_secrets (id, name, instance_id, encrypted_value) VALUES
                (platform.uuid_v7(), 'TEAM_ONLY', @Instance, '\x00'::bytea),
                (platform.uuid_v7(), 'EVERYONE', NULL, '\x00'::bytea);
            INSERT INTO access.discovered_secrets (id, cluster_name, provider_type, secret_ref) VALUES (platform.uuid_v7(), 'c', 'vault', 'x/1');
            """,
            new { Instance = instance, Team = team });
        var member = viewer with { ScopedGrants = [new ScopedGrant("fleet.read", new Dictionary<string, string> { ["team_id"] = team.ToString() })] };

        var outsiders = await SendAsync(viewer, new ListSecrets.Query(null, null, null, null, null, [], null, null));
        outsiders.Items.Select(item => item.Name).Order().ShouldBe(["EVERYONE", "x/1"]);
        var teamSecret = (await SendAsync(member, new ListSecrets.Query(null, null, null, null, "vault", [], null, null))).Items.Single(item => item.Name == "TEAM_ONLY");
        await Should.ThrowAsync<NotFoundException>(() => SendAsync(viewer, new GetSecret.Query(teamSecret.Id)));
        (await SendAsync(member, new GetSecret.Query(teamSecret.Id))).Vault!["instanceId"].ShouldBe(instance);

        var page = await SendAsync(member, new ListSecrets.Query(null, null, null, null, null, [], null, null, Page: 2, PageSize: 2));
        (page.Total, page.Offset, page.Page, page.PageSize, page.TotalPages).ShouldBe((3L, 2, 2, 2, 2L));
        page.Items.Count.ShouldBe(1);
        await Should.ThrowAsync<ValidationException>(() => SendAsync(member, new ListSecrets.Query(null, null, null, null, null, [], null, 4, Page: 1)));
        await Should.ThrowAsync<ValidationException>(() => SendAsync(member, new ListSecrets.Query(null, null, null, null, null, [], null, null, PageSize: 500)));
    }

    [Fact]
    public async Task An_argocd_token_is_stored_encrypted_to_its_endpoint()
    {
        var admin = CallerOf(await Fixture.CreateUserAsync(BaseRole.Admin));

        var endpoint = await SendAsync(admin, new CreateArgoCdEndpoint.Command("argo", "http://127.0.0.1:1", Convert.ToBase64String("tok-123"u8), null, null, null, "argo.internal"));

        endpoint.TlsServerName.ShouldBe("argo.internal");
        var envelope = await Fixture.ScalarAsync<byte[]>("SELECT token_envelope FROM access.argocd_endpoints");
        Encoding.UTF8.GetString(envelope!).ShouldNotContain("tok-123");
        Fixture.Services.GetRequiredService<EnvelopeCipher>().DecryptString(envelope!, $"access.argocd_endpoints:{endpoint.Id}").ShouldBe("tok-123");
        await Should.ThrowAsync<ConflictException>(() => SendAsync(admin, new CreateArgoCdEndpoint.Command("argo", "https://argo.example", null, "t", null, null, null)));
        (await SendAsync(admin, new ListDiscoveredApps.Command(endpoint.Id, null))).Failure!.ShouldStartWith("ArgoCD is unreachable");
    }
}
