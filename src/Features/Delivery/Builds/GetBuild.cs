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

namespace Capstan.Features.Delivery.Builds;

/// <summary><c>GET /v1/api/builds/{id}</c> (seed 002): one of the caller's builds → <c>{build}</c>; 404
/// <c>Build not found</c> for anyone else's.</summary>
public static class GetBuild
{
    public sealed record Query(Guid Id) : IQuery<Response>;

    public sealed record Response(BuildView Build);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken) =>
            new(BuildRecords.View(await BuildRecords.GetOwnedAsync(db, query.Id, request.RequiredCaller.UserId, cancellationToken)));
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/builds/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id), cancellationToken)))
                .RequirePermission(Permissions.DeliveryRead)
                .WithName("Delivery" + nameof(GetBuild))
                .WithTags(DeliveryRoutes.Builds)
                .WithSummary("Get build details")
                .ProducesErrors(400, 401, 403, 404);
    }
}
