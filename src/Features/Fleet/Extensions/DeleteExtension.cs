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

/// <summary><c>DELETE /api/v1/extensions/{id}</c> (seed 004, ADMIN): removes the extension with its usage records and
/// policies → <c>{deleted: true, id, name}</c>; 404 when unknown.</summary>
public static class DeleteExtension
{
    public sealed record Command(Guid Id) : ICommand<Response>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Id).NotEmpty();
    }

    public sealed record Response(
        [property: JsonPropertyName("deleted")] bool Deleted, [property: JsonPropertyName("id")] Guid Id, [property: JsonPropertyName("name")] string Name);

    internal sealed class Handler(DbSession db, AuditTrail audit) : IRequestHandler<Command, Response>
    {
        private const string Delete = "DELETE FROM fleet.extensions WHERE id = @Id RETURNING name";

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var name = await db.ExecuteScalarAsync<string>(Delete, new { command.Id }, cancellationToken)
                ?? throw new NotFoundException($"Extension '{command.Id}' not found");
            audit.Record("extension.delete", "extension", command.Id.ToString(), name);
            return new Response(true, command.Id, name);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapDelete("/api/v1/extensions/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id), cancellationToken)))
                .RequirePermission(Permissions.ExtensionDelete)
                .WithName(nameof(DeleteExtension))
                .WithTags(FleetRoutes.Extensions)
                .WithSummary("Remove an extension from the registry")
                .ProducesErrors(400, 401, 403, 404);
    }
}
