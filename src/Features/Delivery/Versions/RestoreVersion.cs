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

/// <summary><c>POST /v1/api/workflows/{id}/versions/{version}/restore</c> (seed 002): makes a new version N+1 holding
/// version X's graph (<c>restored_from: X</c>, "Restored from version X") and puts that graph back on the workflow.
/// Nothing is deployed: the next run does. Answers <c>{message, version, workflow}</c>.</summary>
public static class RestoreVersion
{
    public sealed record Command(Guid Id, long Version) : ICommand<Response>;

    public sealed record Response(
        [property: JsonPropertyName("message")] string Message,
        [property: JsonPropertyName("version")] VersionView Version,
        [property: JsonPropertyName("workflow")] WorkflowView Workflow);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Id).NotEmpty();
            RuleFor(command => command.Version).GreaterThan(0).WithMessage("Invalid version number");
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit) : IRequestHandler<Command, Response>
    {
        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var workflow = await WorkflowStore.GetOwnedAsync(db, command.Id, caller.UserId, cancellationToken, forUpdate: true);
            var source = await WorkflowVersions.GetAsync(db, workflow.Id, command.Version, cancellationToken);
            var number = await WorkflowVersions.NextAsync(db, workflow.Id, cancellationToken);
            await db.ExecuteAsync(
                """
                INSERT INTO delivery.workflow_versions (id, workflow_id, version, nodes, edges, description, created_at, created_by, restored_from, is_automatic)
                VALUES (@Id, @WorkflowId, @Version, CAST(@Nodes AS jsonb), CAST(@Edges AS jsonb), @Description, now(), @By, @From, false)
                """,
                new { Id = Guid.CreateVersion7(), WorkflowId = workflow.Id, Version = number, source.Nodes, source.Edges, Description = $"Restored from version {source.Version}", By = caller.UserId, From = source.Version },
                cancellationToken);
            await db.ExecuteAsync(
                "UPDATE delivery.workflows SET nodes = CAST(@Nodes AS jsonb), edges = CAST(@Edges AS jsonb), current_version = @Version, updated_at = now() WHERE id = @Id",
                new { workflow.Id, source.Nodes, source.Edges, Version = number },
                cancellationToken);
            audit.Record("delivery.version.restore", "workflow", workflow.Id.ToString(), workflow.Name, new { restored_from = source.Version, version = number });
            return new Response(
                "Version restored successfully",
                WorkflowVersions.View(await WorkflowVersions.GetAsync(db, workflow.Id, number, cancellationToken)),
                WorkflowStore.View(await WorkflowStore.GetOwnedAsync(db, workflow.Id, caller.UserId, cancellationToken)));
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/v1/api/workflows/{id}/versions/{version}/restore", async (Guid id, long version, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id, version), cancellationToken)))
                .RequirePermission(Permissions.DeliveryEdit)
                .WithName("Delivery" + nameof(RestoreVersion))
                .WithTags(DeliveryRoutes.Versions)
                .WithSummary("Restore a previous version")
                .ProducesErrors(400, 401, 403, 404);
    }
}
