using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Delivery;
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

/// <summary><c>PUT /v1/api/admin/registries/{id}/default</c> (seed 002, admin): makes the registry the default of its
/// type (the one images of that type use when no registry names their host); the previous default stops being one.</summary>
public static class SetDefaultRegistry
{
    public sealed record Command(Guid Id) : ICommand<Response>;

    public sealed record Response(string Message, RegistryView Registry);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, AuditTrail audit) : IRequestHandler<Command, Response>
    {
        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var registry = await db.QuerySingleOrDefaultAsync<RegistryRecord>(
                "SELECT id, name, registry_type, registry_url, is_default, credentials FROM delivery.registries WHERE id = @Id FOR UPDATE",
                new { command.Id },
                cancellationToken) ?? throw new NotFoundException("Registry not found");
            await db.ExecuteAsync("UPDATE delivery.registries SET is_default = false, updated_at = now() WHERE registry_type = @Type AND is_default AND id <> @Id", new { Type = registry.RegistryType, command.Id }, cancellationToken);
            await db.ExecuteAsync("UPDATE delivery.registries SET is_default = true, updated_at = now() WHERE id = @Id", new { command.Id }, cancellationToken);
            audit.Record("delivery.registry.default", "registry", registry.Id.ToString(), registry.Name, new { type = registry.RegistryType });
            return new Response("Registry set as default successfully", await db.QuerySingleAsync<RegistryView>($"SELECT {RegistryView.Columns} FROM delivery.registries WHERE id = @Id", new { command.Id }, cancellationToken));
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPut("/v1/api/admin/registries/{id}/default", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id), cancellationToken)))
                .RequirePermission(Permissions.DeliveryAdmin)
                .WithName("Delivery" + nameof(SetDefaultRegistry))
                .WithTags(DeliveryRoutes.Registries)
                .WithSummary("Set default registry")
                .ProducesErrors(400, 401, 403, 404);
    }
}
