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

namespace Capstan.Features.Delivery.Imports;

/// <summary><c>GET /v1/api/import/{id}</c> (seed 002): one of the caller's import sessions — status, stage, progress,
/// log, and the analysis once done → <c>{session}</c>. The upstream showed anyone's; here another user's is a 404.</summary>
public static class GetImportSession
{
    public sealed record Query(Guid Id) : IQuery<Response>;

    public sealed record Response(ImportSessionView Session);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken) =>
            new(ImportSessions.View(await ImportSessions.GetOwnedAsync(db, query.Id, request.RequiredCaller.UserId, cancellationToken)));
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/import/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id), cancellationToken)))
                .RequirePermission(Permissions.DeliveryRead)
                .WithName("Delivery" + nameof(GetImportSession))
                .WithTags(DeliveryRoutes.Import)
                .WithSummary("Get import session status")
                .ProducesErrors(400, 401, 403, 404);
    }
}
