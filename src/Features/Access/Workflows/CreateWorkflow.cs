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

namespace Capstan.Features.Access.Workflows;

/// <summary><c>POST /api/v1/workflows</c> (seed 003, workflow.edit): a new approval workflow. Omitted TTLs take the
/// standard values (7 days, 1 hour, 5 minutes, 14 days), omitted flags their defaults (<c>enabled</c> true — unlike the
/// upstream, which silently created disabled workflows). A taken name or a second default is a 409.</summary>
public static class CreateWorkflow
{
    public sealed record Command(
        [property: JsonPropertyName("name")] string? Name,
        [property: JsonPropertyName("description")] string? Description,
        [property: JsonPropertyName("min_approvers")] long? MinApprovers,
        [property: JsonPropertyName("approver_role_id")] Guid? ApproverRoleId,
        [property: JsonPropertyName("wrap_ttl_created_seconds")] long? WrapTtlCreatedSeconds,
        [property: JsonPropertyName("wrap_ttl_approved_seconds")] long? WrapTtlApprovedSeconds,
        [property: JsonPropertyName("wrap_ttl_claimed_seconds")] long? WrapTtlClaimedSeconds,
        [property: JsonPropertyName("request_ttl_seconds")] long? RequestTtlSeconds,
        [property: JsonPropertyName("require_justification")] bool? RequireJustification,
        [property: JsonPropertyName("allow_self_approval")] bool? AllowSelfApproval,
        [property: JsonPropertyName("notification_channels")] List<string>? NotificationChannels,
        [property: JsonPropertyName("is_default")] bool? IsDefault,
        [property: JsonPropertyName("enabled")] bool? Enabled) : ICommand<WorkflowBody>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Name).NotEmpty().WithMessage("name is required").MaximumLength(100);
            RuleFor(command => command.Description).MaximumLength(2000);
            RuleFor(command => command.MinApprovers).InclusiveBetween(0, 100).When(command => command.MinApprovers is not null);
            RuleFor(command => command.WrapTtlCreatedSeconds).GreaterThan(0).WithMessage("all TTLs must be positive seconds").When(command => command.WrapTtlCreatedSeconds is not null);
            RuleFor(command => command.WrapTtlApprovedSeconds).GreaterThan(0).WithMessage("all TTLs must be positive seconds").When(command => command.WrapTtlApprovedSeconds is not null);
            RuleFor(command => command.WrapTtlClaimedSeconds).GreaterThan(0).WithMessage("all TTLs must be positive seconds").When(command => command.WrapTtlClaimedSeconds is not null);
            RuleFor(command => command.RequestTtlSeconds).GreaterThan(0).WithMessage("all TTLs must be positive seconds").When(command => command.RequestTtlSeconds is not null);
            RuleFor(command => command.NotificationChannels).Must(channels => channels is null || (channels.Count <= 20 && channels.All(channel => !string.IsNullOrWhiteSpace(channel) && channel.Length <= 500)))
                .WithMessage("notification_channels must be at most 20 non-empty strings");
        }
    }

    internal sealed class Handler(DbSession db, AuditTrail audit) : IRequestHandler<Command, WorkflowBody>
    {
        private const string Taken = "SELECT EXISTS (SELECT 1 FROM access.workflows WHERE name = @Name)";

        private const string DefaultExists = "SELECT EXISTS (SELECT 1 FROM access.workflows WHERE is_default)";

        private const string RoleExists = "SELECT EXISTS (SELECT 1 FROM identity.roles WHERE id = @Id)";

        private const string Insert = $"""
            INSERT INTO access.workflows
                (id, name, description, min_approvers, approver_role_id, wrap_ttl_created_seconds, wrap_ttl_approved_seconds,
                 wrap_ttl_claimed_seconds, request_ttl_seconds, require_justification, allow_self_approval, notification_channels, is_default, enabled)
            VALUES
                (@Id, @Name, @Description, @MinApprovers, @ApproverRoleId, @WrapTtlCreatedSeconds, @WrapTtlApprovedSeconds,
                 @WrapTtlClaimedSeconds, @RequestTtlSeconds, @RequireJustification, @AllowSelfApproval, CAST(@NotificationChannels AS jsonb), @IsDefault, @Enabled)
            RETURNING {WorkflowRow.Columns}
            """;

        public async Task<WorkflowBody> Handle(Command command, CancellationToken cancellationToken)
        {
            var name = command.Name!.Trim();
            if (await db.QuerySingleAsync<bool>(Taken, new { Name = name }, cancellationToken))
            {
                throw new ConflictException("A workflow with this name already exists");
            }

            if (command.IsDefault == true && await db.QuerySingleAsync<bool>(DefaultExists, null, cancellationToken))
            {
                throw new ConflictException("A default workflow already exists: unset it first");
            }

            if (command.ApproverRoleId is { } roleId && !await db.QuerySingleAsync<bool>(RoleExists, new { Id = roleId }, cancellationToken))
            {
                throw BadRequestException.ForField("approver_role_id", "approver_role_id does not name a role");
            }

            var row = await db.QuerySingleAsync<WorkflowRow>(
                Insert,
                new
                {
                    Id = Guid.CreateVersion7(),
                    Name = name,
                    Description = command.Description?.Trim() ?? string.Empty,
                    MinApprovers = command.MinApprovers ?? 1,
                    command.ApproverRoleId,
                    WrapTtlCreatedSeconds = command.WrapTtlCreatedSeconds ?? 604800,
                    WrapTtlApprovedSeconds = command.WrapTtlApprovedSeconds ?? 3600,
                    WrapTtlClaimedSeconds = command.WrapTtlClaimedSeconds ?? 300,
                    RequestTtlSeconds = command.RequestTtlSeconds ?? 1209600,
                    RequireJustification = command.RequireJustification ?? true,
                    AllowSelfApproval = command.AllowSelfApproval ?? false,
                    NotificationChannels = JsonSerializer.Serialize(command.NotificationChannels ?? []),
                    IsDefault = command.IsDefault ?? false,
                    Enabled = command.Enabled ?? true,
                },
                cancellationToken);
            audit.Record("workflow.create", "workflow", row.Id.ToString(), row.Name, new { row.MinApprovers, row.IsDefault, row.Enabled });
            return row.ToBody();
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/workflows", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var workflow = await mediator.Send(command, cancellationToken);
                    return TypedResults.Created($"/api/v1/workflows/{workflow.Id}", workflow);
                })
                .RequirePermission(Permissions.WorkflowEdit)
                .WithName(nameof(CreateWorkflow))
                .WithTags(AccessRoutes.Workflows)
                .WithSummary("Create an approval workflow")
                .ProducesErrors(400, 401, 403, 409);
    }
}
