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

/// <summary><c>GET /v1/api/registries/{id}</c> (seed 002): one registry (credentials never shown); 404 when unknown.</summary>
public static class GetRegistry
{
    public sealed record Query(Guid Id) : IQuery<RegistryView>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, RegistryView>
    {
        public async Task<RegistryView> Handle(Query query, CancellationToken cancellationToken) =>
            await db.QuerySingleOrDefaultAsync<RegistryView>($"SELECT {RegistryView.Columns} FROM delivery.registries WHERE id = @Id", new { query.Id }, cancellationToken)
            ?? throw new NotFoundException("Registry not found");
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/registries/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id), cancellationToken)))
                .RequirePermission(Permissions.DeliveryRead)
                .WithName("Delivery" + nameof(GetRegistry))
                .WithTags(DeliveryRoutes.Registries)
                .WithSummary("Get registry details")
                .ProducesErrors(400, 401, 403, 404);
    }
}
