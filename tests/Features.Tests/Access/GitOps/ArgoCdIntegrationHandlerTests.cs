using System.Text.Json;
using Capstan.Features.Access.Agents;
using Capstan.Features.Access.GitOps;
using Capstan.Features.Access.Requests;
using Capstan.Infrastructure.Crypto;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Features.Tests.Access.GitOps;

/// <summary>The ArgoCD integration's slices through the real pipeline with the integration on and a local ArgoCD
/// stand-in: endpoints (list, enable, soft delete), application mappings (create, list, soft delete) and the
/// observations of an executed request as its requester and approvers see them.</summary>
public sealed class ArgoCdIntegrationHandlerTests(AccessGitOpsFixture fixture) : AccessGitOpsHandlerTest(fixture)
{
    private async Task<ArgoCdEndpointBody> EndpointAsync(TestUser admin, string name = "argo", string? token = null) =>
        await SendAsync(admin, new CreateArgoCdEndpoint.Command(name, Argo.BaseUrl, null, token ?? Argo.Token, null, null, null));

    private async Task<AppMappingBody> MappingAsync(TestUser admin, Guid endpoint, string application, Guid connection, string? @namespace = null) =>
        await SendAsync(admin, new CreateAppMapping.Command(endpoint, application, null, connection, @namespace, null, null));

    private Task<long> AuditCountAsync(string action, Guid resource) =>
        Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.audit_log WHERE action = @Action AND resource_id = @Id", new { Action = action, Id = resource.ToString() });

    /// <summary>A patch request naming <paramref name="connection"/>, approved, claimed and completed by an agent.</summary>
    private async Task<(Guid RequestId, TestUser Requester, TestUser Approver)> ExecutedRequestAsync(Guid connection)
    {
        var requester = await Fixture.CreateUserAsync(BaseRole.Developer);
        var approver = await Fixture.CreateUserAsync(BaseRole.Operator);
        var agent = await CreateAgentAsync();
        var config = JsonDocument.Parse($$"""{"provider_connection_id": "{{connection.ToString().ToUpperInvariant()}}"}""").RootElement.Clone();
        var request = await SendAsync(requester, new SubmitPatchRequest.Command(null, null, null, "vault", config, "shop/db", new Dictionary<string, string> { ["K"] = "v" }, "rotate"));
        await SendAsync(approver, new ApproveRequest.Command(request.Id, null, null));
        var job = (await SendAsAgentAsync(agent, new ClaimJob.Command()))!;
        await SendAsAgentAsync(agent, new CompleteJob.Command(job.Id, "succeeded", null));
        return (request.Id, requester, approver);
    }

    [Fact]
    public async Task Endpoints_are_listed_by_name_without_their_token_and_with_their_recorded_health()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var zulu = await EndpointAsync(admin, "zulu");
        var alpha = await EndpointAsync(admin, "alpha", token: "wrong-token");
        var deleted = await EndpointAsync(admin, "mike");
        await SendAsync(admin, new DeleteArgoCdEndpoint.Command(deleted.Id));
        (await SendAsync(viewer, new ListDiscoveredApps.Command(zulu.Id, null))).Apps.ShouldNotBeNull();
        (await SendAsync(viewer, new ListDiscoveredApps.Command(alpha.Id, null))).Failure.ShouldBe("ArgoCD answered 401 Unauthorized");

        var endpoints = await SendAsync(viewer, new ListArgoCdEndpoints.Query());

        endpoints.Select(endpoint => endpoint.Name).ShouldBe(["alpha", "zulu"]);
        var healthy = endpoints[1];
        healthy.Id.ShouldBe(zulu.Id);
        healthy.BaseUrl.ShouldBe(Argo.BaseUrl);
        healthy.Enabled.ShouldBeTrue();
        healthy.TlsCaConfigured.ShouldBeFalse();
        healthy.LastHealthAt.ShouldNotBeNull();
        healthy.HealthError.ShouldBeNull();
        healthy.KmsKeyId.ShouldBe(Fixture.Services.GetRequiredService<MasterKey>().CurrentId);
        endpoints[0].LastHealthAt.ShouldBeNull();
        endpoints[0].HealthError.ShouldBe("ArgoCD answered 401 Unauthorized");
        JsonSerializer.Serialize(endpoints).ShouldNotContain(Argo.Token);
    }

    [Fact]
    public async Task An_endpoint_is_disabled_and_enabled_again_with_an_audit_row_each_time()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var endpoint = await EndpointAsync(admin);

        await SendAsync(admin, new SetArgoCdEndpointEnabled.Command(endpoint.Id, false));
        var disabled = await Fixture.ScalarAsync<bool>("SELECT enabled FROM access.argocd_endpoints WHERE id = @Id", new { endpoint.Id });
        var discovery = await SendAsync(admin, new ListDiscoveredApps.Command(endpoint.Id, null));
        await SendAsync(admin, new SetArgoCdEndpointEnabled.Command(endpoint.Id, true));

        disabled.ShouldBeFalse();
        discovery.Failure.ShouldBe("argocd endpoint is disabled");
        (await Fixture.ScalarAsync<bool>("SELECT enabled FROM access.argocd_endpoints WHERE id = @Id", new { endpoint.Id })).ShouldBeTrue();
        var audits = await Fixture.QueryAsync<(Guid ActorId, string ResourceName, string Metadata)>(
            "SELECT actor_id, resource_name, metadata::text FROM identity.audit_log WHERE action = 'argocd_endpoint.set_enabled' AND resource_id = @Id ORDER BY occurred_at, id",
            new { Id = endpoint.Id.ToString() });
        audits.Select(audit => audit.Metadata).ShouldBe(["""{"enabled": false}""", """{"enabled": true}"""]);
        audits.ShouldAllBe(audit => audit.ActorId == admin.Id && audit.ResourceName == "argo");
    }

    [Fact]
    public async Task Enabling_needs_a_value_and_a_live_endpoint()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var endpoint = await EndpointAsync(admin);
        await SendAsync(admin, new DeleteArgoCdEndpoint.Command(endpoint.Id));

        (await Should.ThrowAsync<ValidationException>(() => SendAsync(admin, new SetArgoCdEndpointEnabled.Command(endpoint.Id, null))))
            .Errors.Select(error => error.PropertyName).ShouldBe(["enabled"]);
        (await Should.ThrowAsync<NotFoundException>(() => SendAsync(admin, new SetArgoCdEndpointEnabled.Command(endpoint.Id, true)))).Message.ShouldBe("argocd endpoint not found");
        await Should.ThrowAsync<NotFoundException>(() => SendAsync(admin, new SetArgoCdEndpointEnabled.Command(Guid.CreateVersion7(), true)));
        (await Fixture.ScalarAsync<bool>("SELECT enabled FROM access.argocd_endpoints WHERE id = @Id", new { endpoint.Id })).ShouldBeFalse("a deleted endpoint stays off");
    }

    [Fact]
    public async Task Deleting_an_endpoint_keeps_its_row_switched_off_frees_its_name_and_happens_once()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var endpoint = await EndpointAsync(admin);

        await SendAsync(admin, new DeleteArgoCdEndpoint.Command(endpoint.Id));

        var row = (await Fixture.QueryAsync<(bool Enabled, DateTime? DeletedAt)>("SELECT enabled, deleted_at FROM access.argocd_endpoints WHERE id = @Id", new { endpoint.Id })).Single();
        row.Enabled.ShouldBeFalse();
        row.DeletedAt.ShouldNotBeNull();
        (await SendAsync(admin, new ListArgoCdEndpoints.Query())).ShouldBeEmpty();
        (await AuditCountAsync("argocd_endpoint.delete", endpoint.Id)).ShouldBe(1);
        (await Should.ThrowAsync<NotFoundException>(() => SendAsync(admin, new DeleteArgoCdEndpoint.Command(endpoint.Id)))).Message.ShouldBe("argocd endpoint not found");
        (await Should.ThrowAsync<ValidationException>(() => SendAsync(admin, new DeleteArgoCdEndpoint.Command(Guid.Empty))))
            .Errors.Select(error => error.PropertyName).ShouldBe(["id"]);
        (await EndpointAsync(admin)).Name.ShouldBe("argo", "the name of a deleted endpoint may be used again");
    }

    [Fact]
    public async Task A_mapping_is_stored_trimmed_with_its_creator_and_audited()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var endpoint = await EndpointAsync(admin);
        var connection = Guid.NewGuid();

        var mapping = await SendAsync(admin, new CreateAppMapping.Command(endpoint.Id, "  payments ", null, connection, " argocd ", "  ", "prod"));

        mapping.ArgocdEndpointId.ShouldBe(endpoint.Id);
        mapping.ApplicationName.ShouldBe("payments");
        mapping.ApplicationNamespace.ShouldBe("argocd");
        mapping.ProjectName.ShouldBeNull();
        mapping.ClusterName.ShouldBe("prod");
        mapping.ProviderConnectionId.ShouldBe(connection);
        mapping.SecretMappingId.ShouldBeNull();
        mapping.Enabled.ShouldBeTrue();
        (await Fixture.ScalarAsync<Guid>("SELECT created_by FROM access.gitops_app_mappings WHERE id = @Id", new { mapping.Id })).ShouldBe(admin.Id);
        (await Fixture.ScalarAsync<string>("SELECT metadata ->> 'argocd_endpoint_id' FROM identity.audit_log WHERE action = 'gitops_mapping.create' AND resource_id = @Id", new { Id = mapping.Id.ToString() }))
            .ShouldBe(endpoint.Id.ToString());
        (await SendAsync(admin, new CreateAppMapping.Command(endpoint.Id, "by-secret", Guid.NewGuid(), null, null, null, null))).SecretMappingId.ShouldNotBeNull();
    }

    [Fact]
    public async Task A_mapping_needs_a_live_endpoint()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var deleted = await EndpointAsync(admin);
        await SendAsync(admin, new DeleteArgoCdEndpoint.Command(deleted.Id));

        (await Should.ThrowAsync<BadRequestException>(() => MappingAsync(admin, deleted.Id, "payments", Guid.NewGuid()))).Details!.Keys.ShouldBe(["argocd_endpoint_id"]);
        (await Should.ThrowAsync<BadRequestException>(() => MappingAsync(admin, Guid.CreateVersion7(), "payments", Guid.NewGuid())))
            .Message.ShouldBe("argocd_endpoint_id does not name an ArgoCD endpoint");
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM access.gitops_app_mappings")).ShouldBe(0);
    }

    [Fact]
    public async Task The_mapping_validator_wants_an_endpoint_a_name_and_exactly_one_anchor()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var endpoint = await EndpointAsync(admin);
        var id = Guid.NewGuid();

        (await Should.ThrowAsync<ValidationException>(() => SendAsync(admin, new CreateAppMapping.Command(null, "a", null, id, null, null, null))))
            .Errors.Single().ErrorMessage.ShouldBe("argocd_endpoint_id is required");
        (await Should.ThrowAsync<ValidationException>(() => SendAsync(admin, new CreateAppMapping.Command(endpoint.Id, " ", null, id, null, null, null))))
            .Errors.Single().ErrorMessage.ShouldBe("application_name is required");
        (await Should.ThrowAsync<ValidationException>(() => SendAsync(admin, new CreateAppMapping.Command(endpoint.Id, "a", null, null, null, null, null))))
            .Errors.Single().ErrorMessage.ShouldBe("exactly one of secret_mapping_id or provider_connection_id required");
        (await Should.ThrowAsync<ValidationException>(() => SendAsync(admin, new CreateAppMapping.Command(endpoint.Id, "a", id, id, null, null, null))))
            .Errors.Single().ErrorMessage.ShouldBe("exactly one of secret_mapping_id or provider_connection_id required");
        (await Should.ThrowAsync<ValidationException>(() => SendAsync(admin, new CreateAppMapping.Command(endpoint.Id, new string('a', 254), null, id, null, null, null))))
            .Errors.Select(error => error.PropertyName).ShouldBe(["application_name"]);
        (await Should.ThrowAsync<ValidationException>(() => SendAsync(admin, new CreateAppMapping.Command(endpoint.Id, "a", null, id, new string('n', 254), null, null))))
            .Errors.Select(error => error.PropertyName).ShouldBe(["application_namespace"]);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM access.gitops_app_mappings")).ShouldBe(0);
    }

    [Fact]
    public async Task Mappings_are_listed_by_application_without_the_deleted_ones()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var endpoint = await EndpointAsync(admin);
        var search = await MappingAsync(admin, endpoint.Id, "search", Guid.NewGuid());
        var payments = await MappingAsync(admin, endpoint.Id, "payments", Guid.NewGuid());
        var gone = await MappingAsync(admin, endpoint.Id, "auth", Guid.NewGuid());
        await SendAsync(admin, new DeleteAppMapping.Command(gone.Id));

        var mappings = await SendAsync(viewer, new ListAppMappings.Query());

        mappings.Select(mapping => mapping.Id).ShouldBe([payments.Id, search.Id]);
        mappings[0].ApplicationName.ShouldBe("payments");
    }

    [Fact]
    public async Task Deleting_a_mapping_switches_it_off_once_and_audits()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var endpoint = await EndpointAsync(admin);
        var mapping = await MappingAsync(admin, endpoint.Id, "payments", Guid.NewGuid());

        await SendAsync(admin, new DeleteAppMapping.Command(mapping.Id));

        var row = (await Fixture.QueryAsync<(bool Enabled, DateTime? DeletedAt)>("SELECT enabled, deleted_at FROM access.gitops_app_mappings WHERE id = @Id", new { mapping.Id })).Single();
        row.Enabled.ShouldBeFalse();
        row.DeletedAt.ShouldNotBeNull();
        (await Fixture.ScalarAsync<string>("SELECT resource_name FROM identity.audit_log WHERE action = 'gitops_mapping.delete' AND resource_id = @Id", new { Id = mapping.Id.ToString() }))
            .ShouldBe("payments");
        (await Should.ThrowAsync<NotFoundException>(() => SendAsync(admin, new DeleteAppMapping.Command(mapping.Id)))).Message.ShouldBe("gitops mapping not found");
        await Should.ThrowAsync<ValidationException>(() => SendAsync(admin, new DeleteAppMapping.Command(Guid.Empty)));
        (await AuditCountAsync("gitops_mapping.delete", mapping.Id)).ShouldBe(1);
    }

    [Fact]
    public async Task An_executed_requests_observations_are_listed_oldest_first_for_its_requester_and_approvers()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var endpoint = await EndpointAsync(admin);
        var connection = Guid.NewGuid();
        await MappingAsync(admin, endpoint.Id, "payments", connection, "argocd");
        await MappingAsync(admin, endpoint.Id, "search", connection);
        await MappingAsync(admin, endpoint.Id, "unrelated", Guid.NewGuid());
        var (requestId, requester, approver) = await ExecutedRequestAsync(connection);
        await Fixture.ExecuteAsync("UPDATE access.gitops_observations SET created_at = created_at - interval '1 minute' WHERE application_name = 'search'");

        var mine = await SendAsync(requester, new ListRequestGitOps.Query(requestId, null));
        var theirs = await SendAsync(approver, new ListRequestGitOps.Query(requestId, null));

        mine.Select(observation => observation.ApplicationName).ShouldBe(["search", "payments"]);
        theirs.Select(observation => observation.Id).ShouldBe(mine.Select(observation => observation.Id));
        var payments = mine[1];
        payments.RequestId.ShouldBe(requestId);
        payments.ArgocdEndpointId.ShouldBe(endpoint.Id);
        payments.ApplicationNamespace.ShouldBe("argocd");
        payments.PollingState.ShouldBe("queued");
        payments.PollsCount.ShouldBe(0);
        payments.LastPolledAt.ShouldBeNull();
        payments.ObservedState.EnumerateObject().ShouldBeEmpty();
        (payments.TimeoutAt - payments.CreatedAt).TotalMinutes.ShouldBe(30, 0.01);
        await Should.ThrowAsync<NotFoundException>(() => SendAsync(viewer, new ListRequestGitOps.Query(requestId, null)));
    }

    [Fact]
    public async Task An_observation_shows_what_argocd_reported_once_polled()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var endpoint = await EndpointAsync(admin);
        var connection = Guid.NewGuid();
        await MappingAsync(admin, endpoint.Id, "payments", connection, "argocd");
        Argo.SetApp("payments", "shop", "Healthy", "Synced", "Succeeded");
        var (requestId, requester, _) = await ExecutedRequestAsync(connection);

        await Fixture.Services.GetRequiredService<GitOpsObservationPoller>().TryRunAsync(CancellationToken.None);
        var observation = (await SendAsync(requester, new ListRequestGitOps.Query(requestId, requester.Id.ToString()))).Single();

        observation.PollingState.ShouldBe("applied");
        observation.PollsCount.ShouldBe(1);
        observation.LastPolledAt.ShouldNotBeNull();
        observation.TerminalAt.ShouldNotBeNull();
        observation.LastError.ShouldBeNull();
        observation.ObservedState.GetProperty("health_status").GetString().ShouldBe("Healthy");
        observation.ObservedState.GetProperty("sync_revision").GetString().ShouldBe("4f2a9c1");
        observation.ObservedState.GetProperty("resource_count").GetInt32().ShouldBe(1);
        Argo.Requests.ShouldContain("GET /api/v1/applications/payments?appNamespace=argocd");
    }

    [Fact]
    public async Task Only_enabled_live_mappings_start_observations()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var endpoint = await EndpointAsync(admin);
        var disabledEndpoint = await EndpointAsync(admin, "off");
        var connection = Guid.NewGuid();
        var deleted = await MappingAsync(admin, endpoint.Id, "deleted", connection);
        await MappingAsync(admin, disabledEndpoint.Id, "on-a-disabled-endpoint", connection);
        await MappingAsync(admin, endpoint.Id, "kept", connection);
        await SendAsync(admin, new DeleteAppMapping.Command(deleted.Id));
        await SendAsync(admin, new SetArgoCdEndpointEnabled.Command(disabledEndpoint.Id, false));

        var (requestId, requester, _) = await ExecutedRequestAsync(connection);

        (await SendAsync(requester, new ListRequestGitOps.Query(requestId, null))).Select(observation => observation.ApplicationName).ShouldBe(["kept"]);
    }

    [Fact]
    public async Task The_observations_of_an_unknown_request_are_not_found_and_user_id_may_only_name_the_caller()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var endpoint = await EndpointAsync(admin);
        var connection = Guid.NewGuid();
        await MappingAsync(admin, endpoint.Id, "payments", connection);
        var (requestId, requester, approver) = await ExecutedRequestAsync(connection);

        (await Should.ThrowAsync<NotFoundException>(() => SendAsync(requester, new ListRequestGitOps.Query(Guid.CreateVersion7(), null)))).Message.ShouldBe("request not found");
        (await Should.ThrowAsync<BadRequestException>(() => SendAsync(requester, new ListRequestGitOps.Query(requestId, approver.Id.ToString())))).Details!.Keys.ShouldBe(["user_id"]);
        (await Should.ThrowAsync<ValidationException>(() => SendAsync(requester, new ListRequestGitOps.Query(requestId, new string('u', 101)))))
            .Errors.Select(error => error.PropertyName).ShouldBe(["user_id"]);
        (await SendAsync(requester, new ListRequestGitOps.Query(requestId, $"user:{requester.Id}"))).Count.ShouldBe(1);
    }
}
