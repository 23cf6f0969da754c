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

/// <summary><c>POST /api/v1/policies</c> (seed 003, policy.edit) <c>{name, selector?, workflow_id, priority?, enabled?,
/// direct_reveal_allowed?}</c>: a rule mapping request scopes to a workflow. Selector keys: project_id, environment,
/// environment_kind, operation, provider_type, secret_ref_prefix. <c>enabled</c> defaults to true, <c>priority</c> to
/// 100. 201.</summary>
public static class CreatePolicy
{
    public sealed record Command(
        [property: JsonPropertyName("name")] string? Name,
        [property: JsonPropertyName("selector")] JsonElement? Selector,
        [property: JsonPropertyName("workflow_id")] Guid? WorkflowId,
        [property: JsonPropertyName("priority")] long? Priority,
        [property: JsonPropertyName("enabled")] bool? Enabled,
        [property: JsonPropertyName("direct_reveal_allowed")] bool? DirectRevealAllowed) : ICommand<PolicyBody>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Name).NotEmpty().WithMessage("name is required").MaximumLength(200);
            RuleFor(command => command.WorkflowId).NotNull().WithMessage("workflow_id is required");
            RuleFor(command => command.Priority).InclusiveBetween(-1_000_000, 1_000_000).When(command => command.Priority is not null);
            RuleFor(command => command.Selector).Must(selector => PolicySelectors.Problem(selector) is null)
                .WithMessage(command => PolicySelectors.Problem(command.Selector) ?? string.Empty);
        }
    }

    internal sealed class Handler(DbSession db, AuditTrail audit) : IRequestHandler<Command, PolicyBody>
    {
        private const string WorkflowExists = "SELECT EXISTS (SELECT 1 FROM access.workflows WHERE id = @Id)";

        private const string Insert = $"""
            INSERT INTO access.policies (id, name, selector, workflow_id, priority, enabled, direct_reveal_allowed)
            VALUES (@Id, @Name, CAST(@Selector AS jsonb), @WorkflowId, @Priority, @Enabled, @DirectRevealAllowed)
            RETURNING {PolicyRow.Columns}
            """;

        public async Task<PolicyBody> Handle(Command command, CancellationToken cancellationToken)
        {
            var selector = AccessJson.TextOf(command.Selector);
            var directReveal = command.DirectRevealAllowed ?? false;
            PolicySelectors.EnforceProdInvariant(selector, directReveal);
            if (!await db.QuerySingleAsync<bool>(WorkflowExists, new { Id = command.WorkflowId }, cancellationToken))
            {
                throw BadRequestException.ForField("workflow_id", "workflow_id does not name a workflow");
            }

            var row = await db.QuerySingleAsync<PolicyRow>(
                Insert,
                new
                {
                    Id = Guid.CreateVersion7(),
                    Name = command.Name!.Trim(),
                    Selector = selector,
                    command.WorkflowId,
                    Priority = command.Priority ?? 100,
                    Enabled = command.Enabled ?? true,
                    DirectRevealAllowed = directReveal,
                },
                cancellationToken);
            audit.Record("policy.create", "policy_rule", row.Id.ToString(), row.Name, new { workflow_id = row.WorkflowId, row.Priority, selector = AccessJson.Parse(selector) });
            return row.ToBody();
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/policies", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var policy = await mediator.Send(command, cancellationToken);
                    return TypedResults.Created($"/api/v1/policies/{policy.Id}", policy);
                })
                .RequirePermission(Permissions.PolicyEdit)
                .WithName(nameof(CreatePolicy))
                .WithTags(AccessRoutes.Policies)
                .WithSummary("Create a policy rule")
                .ProducesErrors(400, 401, 403);
    }
}
