using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using Capstan.Infrastructure.Tools;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Fleet.Registry;

/// <summary><c>GET /api/v1/registry/profiles</c> (seed 004): the CLI's extension profiles →
/// <c>{profiles:[{name, description, extensions, extensionCount, totalWithDependencies}]}</c>, where
/// <c>totalWithDependencies</c> counts the profile's extensions plus every extension they depend on, transitively, by
/// the CLI's extension list (each once, cycles tolerated); 503 when the CLI is missing or fails.</summary>
public static class ListRegistryProfiles
{
    public sealed record Query : IQuery<Response>;

    public sealed record Response(IReadOnlyList<Profile> Profiles);

    public sealed record Profile(string Name, string? Description, string[] Extensions, int ExtensionCount, int TotalWithDependencies);

    internal sealed class Handler(SindriCli cli) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var profiles = await SindriRegistry.ProfilesAsync(cli, cancellationToken);
            var dependencies = (await SindriRegistry.ExtensionsAsync(cli, cancellationToken))
                .GroupBy(extension => extension.Name, StringComparer.Ordinal)
                .ToDictionary(group => group.Key, group => group.First().Dependencies, StringComparer.Ordinal);
            return new Response([.. profiles.Select(profile => new Profile(
                profile.Name, profile.Description, profile.Extensions, profile.Extensions.Length, Closure(profile.Extensions, dependencies).Count))]);
        }

        internal static HashSet<string> Closure(IEnumerable<string> roots, IReadOnlyDictionary<string, string[]> dependencies)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var pending = new Stack<string>(roots);
            while (pending.TryPop(out var name))
            {
                if (seen.Add(name) && dependencies.TryGetValue(name, out var next))
                {
                    foreach (var dependency in next)
                    {
                        pending.Push(dependency);
                    }
                }
            }

            return seen;
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/registry/profiles", async (IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(ListRegistryProfiles))
                .WithTags(FleetRoutes.Registry)
                .WithSummary("Profiles from the sindri CLI")
                .ProducesErrors(401, 403, 503);
    }
}
