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

namespace Capstan.Features.Access.Projects;

/// <summary><c>PUT /api/v1/projects/{id}/status</c> (seed 003) <c>{status: active|archived}</c>: archive (the soft
/// delete: no new requests in it) or re-activate a project. 204.</summary>
public static class SetProjectStatus
{
    public sealed record Command(Guid Id, string? Status) : ICommand<Unit>;

    public sealed record Body([property: JsonPropertyName("status")] string? Status);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() =>
            RuleFor(command => command.Status).Must(status => status is "active" or "archived").WithMessage("status must be active or archived").OverridePropertyName("status");
    }

    internal sealed class Handler(DbSession db, AuditTrail audit) : IRequestHandler<Command, Unit>
    {
        private const string Update = """
            UPDATE access.projects SET status = @Status, updated_at = now() WHERE id = @Id RETURNING name
            """;

        public async Task<Unit> Handle(Command command, CancellationToken cancellationToken)
        {
            var name = await db.QuerySingleOrDefaultAsync<string>(Update, new { command.Id, command.Status }, cancellationToken)
                ?? throw new NotFoundException("project not found");
            audit.Record("project.status", "project", command.Id.ToString(), name, new { command.Status });
            return Unit.Value;
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPut("/api/v1/projects/{id}/status", async (Guid id, Body body, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    await mediator.Send(new Command(id, body.Status), cancellationToken);
                    return TypedResults.NoContent();
                })
                .RequirePermission(Permissions.ProjectEdit)
                .WithName(nameof(SetProjectStatus))
                .WithTags(AccessRoutes.Tenancy)
                .WithSummary("Archive or re-activate a project")
                .ProducesErrors(400, 401, 403, 404);
    }
}
