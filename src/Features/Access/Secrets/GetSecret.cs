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

namespace Capstan.Features.Access.Secrets;

/// <summary><c>GET /api/v1/secrets/{id}</c> (seeds 003 and 004): one secret's metadata, whichever source it has; a
/// vault secret of another team's instance is a 404, like an unknown id.</summary>
public static class GetSecret
{
    public sealed record Query(Guid Id) : IQuery<SecretBody>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, RequestContext request, TimeProvider clock) : IRequestHandler<Query, SecretBody>
    {
        private const string Select = $"SELECT {SecretCatalog.Columns} FROM ({SecretCatalog.Rows}) catalog WHERE id = @Id AND {SecretCatalog.Visible}";

        public async Task<SecretBody> Handle(Query query, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            if (!caller.Has(Permissions.SecretList))
            {
                throw new NotFoundException("secret not found");
            }

            var row = await db.QuerySingleOrDefaultAsync<SecretRow>(
                Select, new { query.Id, SeesAllTeams = caller.IsAdmin, TeamIds = caller.TeamIds.ToArray() }, cancellationToken)
                ?? throw new NotFoundException("secret not found");
            return row.ToBody(clock.GetUtcNow().UtcDateTime);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/secrets/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id), cancellationToken)))
                .RequirePermission(Permissions.SecretList)
                .WithName(nameof(GetSecret))
                .WithTags(AccessRoutes.Secrets)
                .WithSummary("Get one secret's metadata")
                .ProducesErrors(400, 401, 403, 404);
    }
}
