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

namespace Capstan.Features.Fleet.Extensions;

/// <summary><c>DELETE /api/v1/extensions/policies/{id}</c> (seed 004, OPERATOR): removes the policy →
/// <c>{deleted: true, id}</c>; 404 when unknown.</summary>
public static class DeleteExtensionPolicy
{
    public sealed record Command(Guid Id) : ICommand<Response>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Id).NotEmpty();
    }

    public sealed record Response([property: JsonPropertyName("deleted")] bool Deleted, [property: JsonPropertyName("id")] Guid Id);

    internal sealed class Handler(DbSession db, AuditTrail audit) : IRequestHandler<Command, Response>
    {
        private const string Delete = """
            DELETE FROM fleet.extension_policies p USING fleet.extensions e
            WHERE p.id = @Id AND e.id = p.extension_id
            RETURNING e.name
            """;

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var extension = await db.ExecuteScalarAsync<string>(Delete, new { command.Id }, cancellationToken)
                ?? throw new NotFoundException($"Extension policy '{command.Id}' not found");
            audit.Record("extension_policy.delete", "extension_policy", command.Id.ToString(), extension);
            return new Response(true, command.Id);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapDelete("/api/v1/extensions/policies/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id), cancellationToken)))
                .RequirePermission(Permissions.ExtensionPolicyEdit)
                .WithName(nameof(DeleteExtensionPolicy))
                .WithTags(FleetRoutes.ExtensionPolicies)
                .WithSummary("Delete an extension policy")
                .ProducesErrors(400, 401, 403, 404);
    }
}
