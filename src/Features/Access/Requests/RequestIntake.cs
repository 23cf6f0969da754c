using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;

namespace Capstan.Features.Access.Requests;

/// <summary>What both submit routes (patch and read) ask for.</summary>
internal sealed record IntakeInput(
    string Type,
    Guid? ProjectId,
    string? Environment,
    string ProviderType,
    string ProviderConfigJson,
    string SecretRef,
    string? Justification,
    IReadOnlyList<string> TargetKeys,
    bool DirectReveal);

internal sealed record Intake(RequestRow Row, PolicyDecision Decision);

/// <summary>
/// The common front half of a submission: the project and environment are checked, the caller's
/// <c>secret.request</c> must cover them, the policy engine picks the workflow, the workflow's justification rule applies,
/// and a pending request is stored with its expiry (<c>request_ttl</c>). The audit rows of the request's life share its id
/// as correlation id.
/// </summary>
internal static class RequestIntake
{
    private const string Project = "SELECT status FROM access.projects WHERE id = @Id";

    private const string Environment = """
        SELECT id, name, kind FROM access.environments WHERE project_id = @ProjectId AND lower(name) = lower(@Name)
        """;

    private const string Insert = $"""
        INSERT INTO access.requests AS r
            (id, requester_id, type, justification, status, workflow_id, policy_id, project_id, environment, environment_id,
             target_provider_type, target_provider_config, target_secret_ref, target_keys, direct_reveal, expires_at)
        VALUES
            (@Id, @RequesterId, @Type, @Justification, 'pending', @WorkflowId, @PolicyId, @ProjectId, @Environment, @EnvironmentId,
             @ProviderType, CAST(@ProviderConfig AS jsonb), @SecretRef, CAST(@TargetKeys AS jsonb), @DirectReveal,
             now() + make_interval(secs => @TtlSeconds))
        RETURNING {RequestRow.Columns}
        """;

    public static async Task<Intake> SubmitAsync(DbSession db, RequestContext context, AuditTrail audit, IntakeInput input, CancellationToken cancellationToken)
    {
        var caller = context.RequiredCaller;
        var id = Guid.CreateVersion7();
        audit.CorrelationId = id;

        string? environment = string.IsNullOrWhiteSpace(input.Environment) ? null : input.Environment.Trim();
        Guid? environmentId = null;
        string? environmentKind = null;
        if (input.ProjectId is { } projectId)
        {
            var status = await db.QuerySingleOrDefaultAsync<string>(Project, new { Id = projectId }, cancellationToken)
                ?? throw BadRequestException.ForField("project_id", "project_id does not name a project");
            if (status != "active")
            {
                throw new ConflictException("The project is archived: no new requests can be submitted in it");
            }

            if (environment is not null)
            {
                var found = await db.QuerySingleOrDefaultAsync<EnvironmentRow>(Environment, new { ProjectId = projectId, Name = environment }, cancellationToken)
                    ?? throw BadRequestException.ForField("environment", "environment does not name an environment of the project");
                (environment, environmentId, environmentKind) = (found.Name, found.Id, found.Kind);
            }
        }

        var scope = RequestRecords.ScopeOf(input.ProjectId, environment);
        var allowed = input.ProjectId is null ? caller.Has(Permissions.SecretRequest) : caller.Has(Permissions.SecretRequest, scope);
        if (!allowed)
        {
            throw new ForbiddenException("secret.request is not granted to you for this project", "out_of_scope_project");
        }

        if (input.DirectReveal)
        {
            await CheckDirectRevealGateAsync(caller, audit, input, scope, environmentId, environmentKind, id, cancellationToken);
        }

        var decision = await PolicyEngine.ResolveAsync(
            db,
            new PolicyScope(input.ProjectId?.ToString(), environment, environmentKind, input.Type, input.ProviderType, input.SecretRef),
            cancellationToken);
        if (decision.InvariantViolated)
        {
            audit.Record(new AuditEntry("policy.invariant.violated", "policy_rule", decision.PolicyId?.ToString(), decision.PolicyName, new
            {
                reason = "direct_reveal_on_prod_env_zeroed",
                request_id = id,
                environment_id = environmentId,
            })
            { ActorType = "system", ActorName = "system:policy-engine" });
        }

        if (input.DirectReveal && !decision.DirectRevealAllowed)
        {
            throw new ForbiddenException("The matched policy does not permit a direct reveal", "direct_reveal_not_allowed");
        }

        var justification = input.Justification?.Trim() ?? string.Empty;
        if (decision.Workflow.RequireJustification && justification.Length == 0)
        {
            throw BadRequestException.ForField("justification", "justification is required by the request's workflow");
        }

        var row = await db.QuerySingleAsync<RequestRow>(
            Insert,
            new
            {
                Id = id,
                RequesterId = caller.UserId,
                input.Type,
                Justification = justification,
                WorkflowId = decision.Workflow.Id,
                decision.PolicyId,
                input.ProjectId,
                Environment = environment,
                EnvironmentId = environmentId,
                input.ProviderType,
                ProviderConfig = input.ProviderConfigJson,
                input.SecretRef,
                TargetKeys = AccessJson.ToJson(input.TargetKeys),
                input.DirectReveal,
                TtlSeconds = (double)decision.Workflow.RequestTtlSeconds,
            },
            cancellationToken);

        audit.Record("request.submit", "request", id.ToString(), null, new
        {
            type = input.Type,
            workflow_id = decision.Workflow.Id,
            policy_id = decision.PolicyId,
            project_id = input.ProjectId,
            environment,
            provider_type = input.ProviderType,
            target_ref = input.SecretRef,
            keys = input.TargetKeys.Count,
            direct_reveal = input.DirectReveal,
        });
        return new Intake(row, decision);
    }

    // PROD invariant, gate 1 (before any policy is consulted): a direct reveal needs a known non-prod environment and
    // secret.reveal.direct there. A refusal on prod is audited even though the request rolls back.
    private static async Task CheckDirectRevealGateAsync(
        Caller caller, AuditTrail audit, IntakeInput input, IReadOnlyDictionary<string, string> scope, Guid? environmentId, string? environmentKind, Guid id,
        CancellationToken cancellationToken)
    {
        if (input.Type != "read")
        {
            throw BadRequestException.ForField("direct_reveal", "only read requests can be revealed directly");
        }

        if (environmentId is null)
        {
            throw BadRequestException.ForField("environment", "a direct reveal needs the project and environment it happens in");
        }

        if (!caller.Has(Permissions.SecretRevealDirect, scope))
        {
            throw new ForbiddenException("secret.reveal.direct is not granted to you for this environment", "out_of_scope_project");
        }

        if (environmentKind == "prod")
        {
            await audit.WriteNowAsync(
                new AuditEntry("secret.reveal.direct.refused_prod", "environment", environmentId.ToString(), null, new { request_id = id, project_id = input.ProjectId })
                { Result = AuditResult.Denied },
                cancellationToken);
            throw new ForbiddenException("Direct reveal is not permitted on prod environments", "direct_reveal_refused_prod");
        }
    }

    private sealed class EnvironmentRow
    {
        public Guid Id { get; init; }

        public string Name { get; init; } = string.Empty;

        public string Kind { get; init; } = string.Empty;
    }
}
