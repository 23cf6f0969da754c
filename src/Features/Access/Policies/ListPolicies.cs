using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Access.Policies;

/// <summary><c>GET /api/v1/policies</c> (seed 003): every rule in evaluation order (priority highest first, oldest first
/// on ties).</summary>
public static class ListPolicies
{
    public sealed record Query : IQuery<IReadOnlyList<PolicyBody>>;

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, IReadOnlyList<PolicyBody>>
    {
        private const string Select = $"SELECT {PolicyRow.Columns} FROM access.policies ORDER BY priority DESC, created_at, id";

        public async Task<IReadOnlyList<PolicyBody>> Handle(Query query, CancellationToken cancellationToken) =>
            [.. (await db.QueryAsync<PolicyRow>(Select, null, cancellationToken)).Select(row => row.ToBody())];
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/policies", async (IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(), cancellationToken)))
                .RequirePermission(Permissions.AccessRead)
                .WithName(nameof(ListPolicies))
                .WithTags(AccessRoutes.Policies)
                .WithSummary("List policy rules")
                .ProducesErrors(401, 403);
    }
}
