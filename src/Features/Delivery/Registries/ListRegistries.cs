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

namespace Capstan.Features.Delivery.Registries;

/// <summary><c>GET /v1/api/registries</c> (seed 002): the configured container registries (credentials never shown),
/// by type then name; <c>?type=</c> filters.</summary>
public static class ListRegistries
{
    public sealed record Query(string? Type) : IQuery<Response>;

    public sealed record Response(IReadOnlyList<RegistryView> Registries);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Type).Must(type => type is null || ContainerRegistries.Types.Contains(type))
            .WithMessage($"type must be one of: {string.Join(", ", ContainerRegistries.Types)}");
    }

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken) =>
            new(await db.QueryAsync<RegistryView>(
                $"SELECT {RegistryView.Columns} FROM delivery.registries WHERE (@Type::text IS NULL OR registry_type = @Type) ORDER BY registry_type, lower(name)",
                new { query.Type },
                cancellationToken));
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/registries", async (string? type, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(string.IsNullOrWhiteSpace(type) ? null : type.Trim().ToLowerInvariant()), cancellationToken)))
                .RequirePermission(Permissions.DeliveryRead)
                .WithName("Delivery" + nameof(ListRegistries))
                .WithTags(DeliveryRoutes.Registries)
                .WithSummary("List container registries")
                .ProducesErrors(400, 401, 403);
    }
}
