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

namespace Capstan.Features.Delivery.Registries;

/// <summary><c>DELETE /v1/api/admin/registries/{id}</c> (seed 002, admin): removes the registry and its sealed login.
/// Builds that used it keep their record (their registry becomes empty). 404 when unknown.</summary>
public static class DeleteRegistry
{
    public sealed record Command(Guid Id) : ICommand<Response>;

    public sealed record Response(string Message);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, AuditTrail audit) : IRequestHandler<Command, Response>
    {
        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var name = await db.ExecuteScalarAsync<string>("DELETE FROM delivery.registries WHERE id = @Id RETURNING name", new { command.Id }, cancellationToken)
                ?? throw new NotFoundException("Registry not found");
            audit.Record("delivery.registry.delete", "registry", command.Id.ToString(), name);
            return new Response("Registry deleted successfully");
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapDelete("/v1/api/admin/registries/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id), cancellationToken)))
                .RequirePermission(Permissions.DeliveryAdmin)
                .WithName("Delivery" + nameof(DeleteRegistry))
                .WithTags(DeliveryRoutes.Registries)
                .WithSummary("Delete a registry")
                .ProducesErrors(400, 401, 403, 404);
    }
}
