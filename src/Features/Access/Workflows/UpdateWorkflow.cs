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

/// <summary><c>PUT /api/v1/workflows/{id}</c> (seed 003, workflow.edit): changes the fields sent (omitted ones keep
/// their value); TTLs stay positive (the upstream accepted 0 here). System workflows may be edited. Becoming the default
/// while another is the default is a 409. Requests already submitted keep the workflow they were pinned to. 204.</summary>
public static class UpdateWorkflow
{
    public sealed record Command(Guid Id, Body Changes) : ICommand<Unit>;

    public sealed record Body(
        [property: JsonPropertyName("name")] string? Name,
        [property: JsonPropertyName("description")] string? Description,
        [property: JsonPropertyName("min_approvers")] long? MinApprovers,
        [property: JsonPropertyName("approver_role_id")] JsonElement ApproverRoleId,
        [property: JsonPropertyName("wrap_ttl_created_seconds")] long? WrapTtlCreatedSeconds,
        [property: JsonPropertyName("wrap_ttl_approved_seconds")] long? WrapTtlApprovedSeconds,
        [property: JsonPropertyName("wrap_ttl_claimed_seconds")] long? WrapTtlClaimedSeconds,
        [property: JsonPropertyName("request_ttl_seconds")] long? RequestTtlSeconds,
        [property: JsonPropertyName("require_justification")] bool? RequireJustification,
        [property: JsonPropertyName("allow_self_approval")] bool? AllowSelfApproval,
        [property: JsonPropertyName("notification_channels")] List<string>? NotificationChannels,
        [property: JsonPropertyName("is_default")] bool? IsDefault,
        [property: JsonPropertyName("enabled")] bool? Enabled);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Changes.Name).Must(name => name is null || name.Trim().Length is > 0 and <= 100).WithMessage("name must be 1 to 100 characters").OverridePropertyName("name");
            RuleFor(command => command.Changes.Description).MaximumLength(2000).OverridePropertyName("description");
            RuleFor(command => command.Changes.MinApprovers).InclusiveBetween(0, 100).When(command => command.Changes.MinApprovers is not null).OverridePropertyName("min_approvers");
            RuleFor(command => command.Changes.WrapTtlCreatedSeconds).GreaterThan(0).WithMessage("all TTLs must be positive seconds").When(command => command.Changes.WrapTtlCreatedSeconds is not null).OverridePropertyName("wrap_ttl_created_seconds");
            RuleFor(command => command.Changes.WrapTtlApprovedSeconds).GreaterThan(0).WithMessage("all TTLs must be positive seconds").When(command => command.Changes.WrapTtlApprovedSeconds is not null).OverridePropertyName("wrap_ttl_approved_seconds");
            RuleFor(command => command.Changes.WrapTtlClaimedSeconds).GreaterThan(0).WithMessage("all TTLs must be positive seconds").When(command => command.Changes.WrapTtlClaimedSeconds is not null).OverridePropertyName("wrap_ttl_claimed_seconds");
            RuleFor(command => command.Changes.RequestTtlSeconds).GreaterThan(0).WithMessage("all TTLs must be positive seconds").When(command => command.Changes.RequestTtlSeconds is not null).OverridePropertyName("request_ttl_seconds");
            RuleFor(command => command.Changes.ApproverRoleId).Must(value => value.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null || (value.ValueKind == JsonValueKind.String && value.TryGetGuid(out _)))
                .WithMessage("approver_role_id must be a UUID or null").OverridePropertyName("approver_role_id");
            RuleFor(command => command.Changes.NotificationChannels).Must(channels => channels is null || (channels.Count <= 20 && channels.All(channel => !string.IsNullOrWhiteSpace(channel) && channel.Length <= 500)))
                .WithMessage("notification_channels must be at most 20 non-empty strings").OverridePropertyName("notification_channels");
        }
    }

    internal sealed class Handler(DbSession db, AuditTrail audit) : IRequestHandler<Command, Unit>
    {
        private const string Current = $"SELECT {WorkflowRow.Columns} FROM access.workflows WHERE id = @Id FOR UPDATE";

        private const string Taken = "SELECT EXISTS (SELECT 1 FROM access.workflows WHERE name = @Name AND id <> @Id)";

        private const string OtherDefault = "SELECT EXISTS (SELECT 1 FROM access.workflows WHERE is_default AND id <> @Id)";

        private const string RoleExists = "SELECT EXISTS (SELECT 1 FROM identity.roles WHERE id = @Id)";

        private const string Update = """
            UPDATE access.workflows SET
                name = @Name, description = @Description, min_approvers = @MinApprovers, approver_role_id = @ApproverRoleId,
                wrap_ttl_created_seconds = @WrapTtlCreatedSeconds, wrap_ttl_approved_seconds = @WrapTtlApprovedSeconds,
                wrap_ttl_claimed_seconds = @WrapTtlClaimedSeconds, request_ttl_seconds = @RequestTtlSeconds,
                require_justification = @RequireJustification, allow_self_approval = @AllowSelfApproval,
                notification_channels = CAST(@NotificationChannels AS jsonb), is_default = @IsDefault, enabled = @Enabled, updated_at = now()
            WHERE id = @Id
            """;

        public async Task<Unit> Handle(Command command, CancellationToken cancellationToken)
        {
            var current = await db.QuerySingleOrDefaultAsync<WorkflowRow>(Current, new { command.Id }, cancellationToken)
                ?? throw new NotFoundException("workflow not found");
            var changes = command.Changes;
            var name = changes.Name?.Trim() ?? current.Name;
            if (name != current.Name && await db.QuerySingleAsync<bool>(Taken, new { Name = name, command.Id }, cancellationToken))
            {
                throw new ConflictException("A workflow with this name already exists");
            }

            var isDefault = changes.IsDefault ?? current.IsDefault;
            if (isDefault && !current.IsDefault && await db.QuerySingleAsync<bool>(OtherDefault, new { command.Id }, cancellationToken))
            {
                throw new ConflictException("A default workflow already exists: unset it first");
            }

            var roleId = current.ApproverRoleId;
            // Absent keeps the role; null clears it; a UUID sets it.
            if (changes.ApproverRoleId.ValueKind != JsonValueKind.Undefined)
            {
                roleId = changes.ApproverRoleId.ValueKind == JsonValueKind.Null ? null : changes.ApproverRoleId.GetGuid();
                if (roleId is { } role && !await db.QuerySingleAsync<bool>(RoleExists, new { Id = role }, cancellationToken))
                {
                    throw BadRequestException.ForField("approver_role_id", "approver_role_id does not name a role");
                }
            }

            await db.ExecuteAsync(
                Update,
                new
                {
                    command.Id,
                    Name = name,
                    Description = changes.Description?.Trim() ?? current.Description,
                    MinApprovers = changes.MinApprovers ?? current.MinApprovers,
                    ApproverRoleId = roleId,
                    WrapTtlCreatedSeconds = changes.WrapTtlCreatedSeconds ?? current.WrapTtlCreatedSeconds,
                    WrapTtlApprovedSeconds = changes.WrapTtlApprovedSeconds ?? current.WrapTtlApprovedSeconds,
                    WrapTtlClaimedSeconds = changes.WrapTtlClaimedSeconds ?? current.WrapTtlClaimedSeconds,
                    RequestTtlSeconds = changes.RequestTtlSeconds ?? current.RequestTtlSeconds,
                    RequireJustification = changes.RequireJustification ?? current.RequireJustification,
                    AllowSelfApproval = changes.AllowSelfApproval ?? current.AllowSelfApproval,
                    NotificationChannels = changes.NotificationChannels is null ? current.NotificationChannels : JsonSerializer.Serialize(changes.NotificationChannels),
                    IsDefault = isDefault,
                    Enabled = changes.Enabled ?? current.Enabled,
                },
                cancellationToken);
            audit.Record("workflow.update", "workflow", command.Id.ToString(), name, new { is_default = isDefault, enabled = changes.Enabled ?? current.Enabled });
            return Unit.Value;
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPut("/api/v1/workflows/{id}", async (Guid id, Body body, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    await mediator.Send(new Command(id, body), cancellationToken);
                    return TypedResults.NoContent();
                })
                .RequirePermission(Permissions.WorkflowEdit)
                .WithName(nameof(UpdateWorkflow))
                .WithTags(AccessRoutes.Workflows)
                .WithSummary("Update an approval workflow")
                .ProducesErrors(400, 401, 403, 404, 409);
    }
}
