using System.Text.Json;
using System.Text.Json.Serialization;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Access.Policies;

/// <summary><c>PUT /api/v1/policies/{id}</c> (seed 003, policy.edit): changes the fields sent (name, selector,
/// workflow_id, priority, enabled, direct_reveal_allowed); omitted ones keep their value. System rules may be edited.
/// 204.</summary>
public static class UpdatePolicy
{
    public sealed record Command(Guid Id, Body Changes) : ICommand<Unit>;

    public sealed record Body(
        [property: JsonPropertyName("name")] string? Name,
        [property: JsonPropertyName("selector")] JsonElement? Selector,
        [property: JsonPropertyName("workflow_id")] Guid? WorkflowId,
        [property: JsonPropertyName("priority")] long? Priority,
        [property: JsonPropertyName("enabled")] bool? Enabled,
        [property: JsonPropertyName("direct_reveal_allowed")] bool? DirectRevealAllowed);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Changes.Name).Must(name => name is null || name.Trim().Length is > 0 and <= 200).WithMessage("name must be 1 to 200 characters").OverridePropertyName("name");
            RuleFor(command => command.Changes.Priority).InclusiveBetween(-1_000_000, 1_000_000).When(command => command.Changes.Priority is not null).OverridePropertyName("priority");
            RuleFor(command => command.Changes.Selector).Must(selector => PolicySelectors.Problem(selector) is null)
                .WithMessage(command => PolicySelectors.Problem(command.Changes.Selector) ?? string.Empty).OverridePropertyName("selector");
        }
    }

    internal sealed class Handler(DbSession db, AuditTrail audit) : IRequestHandler<Command, Unit>
    {
        private const string Current = $"SELECT {PolicyRow.Columns} FROM access.policies WHERE id = @Id FOR UPDATE";

        private const string WorkflowExists = "SELECT EXISTS (SELECT 1 FROM access.workflows WHERE id = @Id)";

        private const string Update = """
            UPDATE access.policies SET name = @Name, selector = CAST(@Selector AS jsonb), workflow_id = @WorkflowId, priority = @Priority,
                   enabled = @Enabled, direct_reveal_allowed = @DirectRevealAllowed, updated_at = now()
            WHERE id = @Id
            """;

        public async Task<Unit> Handle(Command command, CancellationToken cancellationToken)
        {
            var current = await db.QuerySingleOrDefaultAsync<PolicyRow>(Current, new { command.Id }, cancellationToken)
                ?? throw new NotFoundException("policy not found");
            var changes = command.Changes;
            var selector = changes.Selector is { ValueKind: JsonValueKind.Object } ? AccessJson.TextOf(changes.Selector) : current.Selector;
            var directReveal = changes.DirectRevealAllowed ?? current.DirectRevealAllowed;
            PolicySelectors.EnforceProdInvariant(selector, directReveal);
            var workflowId = changes.WorkflowId ?? current.WorkflowId;
            if (workflowId != current.WorkflowId && !await db.QuerySingleAsync<bool>(WorkflowExists, new { Id = workflowId }, cancellationToken))
            {
                throw BadRequestException.ForField("workflow_id", "workflow_id does not name a workflow");
            }

            var name = changes.Name?.Trim() ?? current.Name;
            await db.ExecuteAsync(
                Update,
                new
                {
                    command.Id,
                    Name = name,
                    Selector = selector,
                    WorkflowId = workflowId,
                    Priority = changes.Priority ?? current.Priority,
                    Enabled = changes.Enabled ?? current.Enabled,
                    DirectRevealAllowed = directReveal,
                },
                cancellationToken);
            audit.Record("policy.update", "policy_rule", command.Id.ToString(), name, new { workflow_id = workflowId, selector = AccessJson.Parse(selector) });
            return Unit.Value;
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPut("/api/v1/policies/{id}", async (Guid id, Body body, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    await mediator.Send(new Command(id, body), cancellationToken);
                    return TypedResults.NoContent();
                })
                .RequirePermission(Permissions.PolicyEdit)
                .WithName(nameof(UpdatePolicy))
                .WithTags(AccessRoutes.Policies)
                .WithSummary("Update a policy rule")
                .ProducesErrors(400, 401, 403, 404);
    }
}
