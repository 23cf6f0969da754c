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

namespace Capstan.Features.Fleet.Templates;

/// <summary><c>GET /api/v1/templates/{idOrSlug}</c> (seed 004): a template by id, else by slug; 404.</summary>
public static class GetTemplate
{
    public sealed record Query(string IdOrSlug) : IQuery<TemplateView>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.IdOrSlug).NotEmpty().MaximumLength(128);
    }

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, TemplateView>
    {
        private const string Select = $"""
            SELECT {TemplateColumns.All} FROM fleet.deployment_templates t
            WHERE t.id = @Id OR (@Id::uuid IS NULL AND t.slug = @Slug)
            """;

        public async Task<TemplateView> Handle(Query query, CancellationToken cancellationToken)
        {
            var key = query.IdOrSlug.Trim();
            Guid? id = Guid.TryParse(key, out var parsed) ? parsed : null;
            return await db.QuerySingleOrDefaultAsync<TemplateView>(Select, new { Id = id, Slug = key }, cancellationToken)
                ?? throw new NotFoundException($"Template '{key}' not found");
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/templates/{idOrSlug}", async (string idOrSlug, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(idOrSlug), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetTemplate))
                .WithTags(FleetRoutes.Templates)
                .WithSummary("Get a template by id or slug")
                .ProducesErrors(400, 401, 403, 404);
    }
}
