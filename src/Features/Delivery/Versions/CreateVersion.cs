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

/// <summary><c>POST /v1/api/workflows/{id}/versions</c> (seed 002): <c>{name?, tag?, description?}</c> → 201, a manual
/// version of the graph as stored now (not what a client holds unsaved); it becomes the workflow's current version.
/// Answers <c>{message, version}</c>.</summary>
public static class CreateVersion
{
    public sealed record Body(string? Name, string? Tag, string? Description);

    public sealed record Command(Guid Id, string? Name, string? Tag, string? Description) : ICommand<Response>;

    public sealed record Response([property: JsonPropertyName("message")] string Message, [property: JsonPropertyName("version")] VersionView Version);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Id).NotEmpty();
            RuleFor(command => command.Name).MaximumLength(200);
            RuleFor(command => command.Tag).MaximumLength(100);
            RuleFor(command => command.Description).MaximumLength(2000);
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit) : IRequestHandler<Command, Response>
    {
        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var workflow = await WorkflowStore.GetOwnedAsync(db, command.Id, caller.UserId, cancellationToken, forUpdate: true);
            var number = await WorkflowVersions.NextAsync(db, workflow.Id, cancellationToken);
            await db.ExecuteAsync(
                """
                INSERT INTO delivery.workflow_versions (id, workflow_id, version, nodes, edges, name, tag, description, created_at, created_by, is_automatic)
                VALUES (@Id, @WorkflowId, @Version, CAST(@Nodes AS jsonb), CAST(@Edges AS jsonb), @Name, @Tag, @Description, now(), @By, false)
                """,
                new
                {
                    Id = Guid.CreateVersion7(),
                    WorkflowId = workflow.Id,
                    Version = number,
                    workflow.Nodes,
                    workflow.Edges,
                    Name = Blank(command.Name),
                    Tag = Blank(command.Tag),
                    Description = command.Description?.Trim() ?? string.Empty,
                    By = caller.UserId,
                },
                cancellationToken);
            await db.ExecuteAsync("UPDATE delivery.workflows SET current_version = @Version, updated_at = now() WHERE id = @Id", new { workflow.Id, Version = number }, cancellationToken);
            audit.Record("delivery.version.create", "workflow", workflow.Id.ToString(), workflow.Name, new { version = number, tag = Blank(command.Tag) });
            return new Response("Version created successfully", WorkflowVersions.View(await WorkflowVersions.GetAsync(db, workflow.Id, number, cancellationToken)));
        }

        private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/v1/api/workflows/{id}/versions", async (Guid id, Body body, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var created = await mediator.Send(new Command(id, body.Name, body.Tag, body.Description), cancellationToken);
                    return TypedResults.Created($"/v1/api/workflows/{id}/versions/{created.Version.Version}", created);
                })
                .RequirePermission(Permissions.DeliveryEdit)
                .WithName("Delivery" + nameof(CreateVersion))
                .WithTags(DeliveryRoutes.Versions)
                .WithSummary("Create a manual version")
                .ProducesErrors(400, 401, 403, 404);
    }
}
