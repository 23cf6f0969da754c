using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using Capstan.Infrastructure.Tools;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Fleet.Registry;

/// <summary><c>GET /api/v1/registry/extensions</c> (seed 004): the extensions the installed <c>sindri</c> CLI knows,
/// filtered by <c>category</c> (exact, any case) and <c>search</c> (in name or description), sorted by name →
/// <c>{extensions:[{name, category, version, software, status, description, dependencies}], total}</c>; 503 naming the
/// CLI when it is missing or fails.</summary>
public static class ListRegistryExtensions
{
    public sealed record Query(string? Category, string? Search) : IQuery<Response>;

    public sealed record Response(IReadOnlyList<SindriRegistry.CliExtension> Extensions, int Total);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.Category).MaximumLength(100);
            RuleFor(query => query.Search).MaximumLength(200);
        }
    }

    internal sealed class Handler(SindriCli cli) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var search = query.Search?.Trim();
            var extensions = (await SindriRegistry.ExtensionsAsync(cli, cancellationToken))
                .Where(extension => string.IsNullOrWhiteSpace(query.Category) || string.Equals(extension.Category, query.Category.Trim(), StringComparison.OrdinalIgnoreCase))
                .Where(extension => string.IsNullOrEmpty(search)
                    || extension.Name.Contains(search, StringComparison.OrdinalIgnoreCase)
                    || (extension.Description?.Contains(search, StringComparison.OrdinalIgnoreCase) ?? false))
                .OrderBy(extension => extension.Name, StringComparer.Ordinal)
                .ToList();
            return new Response(extensions, extensions.Count);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/registry/extensions", async (string? category, string? search, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(category, search), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(ListRegistryExtensions))
                .WithTags(FleetRoutes.Registry)
                .WithSummary("Extensions from the sindri CLI")
                .ProducesErrors(400, 401, 403, 503);
    }
}
