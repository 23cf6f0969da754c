using System.Text.Json.Serialization;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Delivery;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Delivery.Versions;

/// <summary><c>PUT /v1/api/workflows/{id}/versions/{version}</c> (seed 002): <c>{name?, tag?, description?}</c> — the
/// fields sent replace the version's (an empty string clears name and tag); the graph of a version never changes.
/// Answers <c>{message, version}</c>.</summary>
public static class UpdateVersion
{
    public sealed record Body(string? Name, string? Tag, string? Description);

    public sealed record Command(Guid Id, long Version, string? Name, string? Tag, string? Description) : ICommand<Response>;

    public sealed record Response([property: JsonPropertyName("message")] string Message, [property: JsonPropertyName("version")] VersionView Version);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Id).NotEmpty();
            RuleFor(command => command.Version).GreaterThan(0).WithMessage("Invalid version number");
            RuleFor(command => command.Name).MaximumLength(200);
            RuleFor(command => command.Tag).MaximumLength(100);
            RuleFor(command => command.Description).MaximumLength(2000);
            RuleFor(command => command).Must(command => command.Name is not null || command.Tag is not null || command.Description is not null)
                .WithMessage("No updates provided: send name, tag or description").OverridePropertyName("body");
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit) : IRequestHandler<Command, Response>
    {
        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var workflow = await WorkflowStore.GetOwnedAsync(db, command.Id, request.RequiredCaller.UserId, cancellationToken);
            await WorkflowVersions.GetAsync(db, workflow.Id, command.Version, cancellationToken);
            await db.ExecuteAsync(
                """
                UPDATE delivery.workflow_versions SET
                    name = CASE WHEN @Name::text IS NULL THEN name ELSE NULLIF(@Name, '') END,
                    tag = CASE WHEN @Tag::text IS NULL THEN tag ELSE NULLIF(@Tag, '') END,
                    description = COALESCE(@Description, description)
                WHERE workflow_id = @WorkflowId AND version = @Version
                """,
                new { WorkflowId = workflow.Id, command.Version, Name = command.Name?.Trim(), Tag = command.Tag?.Trim(), Description = command.Description?.Trim() },
                cancellationToken);
            audit.Record("delivery.version.update", "workflow", workflow.Id.ToString(), workflow.Name, new { version = command.Version });
            return new Response("Version updated successfully", WorkflowVersions.View(await WorkflowVersions.GetAsync(db, workflow.Id, command.Version, cancellationToken)));
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPut("/v1/api/workflows/{id}/versions/{version}", async (Guid id, long version, Body body, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id, version, body.Name, body.Tag, body.Description), cancellationToken)))
                .RequirePermission(Permissions.DeliveryEdit)
                .WithName("Delivery" + nameof(UpdateVersion))
                .WithTags(DeliveryRoutes.Versions)
                .WithSummary("Update version metadata")
                .ProducesErrors(400, 401, 403, 404);
    }
}
