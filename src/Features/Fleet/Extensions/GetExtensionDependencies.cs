using System.Text.Json.Serialization;
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

namespace Capstan.Features.Fleet.Extensions;

/// <summary><c>GET /api/v1/extensions/{id}/dependencies</c> (seed 004): the extension's transitive dependencies
/// resolved over the registry's <c>dependencies</c> names. <c>dependencies</c> lists them in install order (depth-first
/// post-order, each once, the extension itself excluded); <c>graph</c> has every node and edge reached; names that are
/// not registered are leaves listed in <c>missing</c>. A cycle is a 400 naming it (<c>a -&gt; b -&gt; a</c>).</summary>
public static class GetExtensionDependencies
{
    public sealed record Query(Guid Id) : IQuery<Response>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Id).NotEmpty();
    }

    public sealed record Response(
        [property: JsonPropertyName("extension_id")] Guid ExtensionId,
        [property: JsonPropertyName("name")] string Name,
        [property: JsonPropertyName("dependencies")] IReadOnlyList<string> Dependencies,
        [property: JsonPropertyName("missing")] IReadOnlyList<string> Missing,
        [property: JsonPropertyName("graph")] Graph Graph);

    public sealed record Graph([property: JsonPropertyName("nodes")] IReadOnlyList<Node> Nodes, [property: JsonPropertyName("edges")] IReadOnlyList<Edge> Edges);

    public sealed record Node(
        [property: JsonPropertyName("name")] string Name,
        [property: JsonPropertyName("id")] Guid? Id,
        [property: JsonPropertyName("version")] string? Version,
        [property: JsonPropertyName("registered")] bool Registered,
        [property: JsonPropertyName("depth")] int Depth);

    public sealed record Edge([property: JsonPropertyName("from")] string From, [property: JsonPropertyName("to")] string To);

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, Response>
    {
        private const string Root = "SELECT name FROM fleet.extensions WHERE id = @Id";

        // Every registered extension reachable from the root by dependency names (cycle-safe: UNION drops repeats).
        private const string Reachable = """
            WITH RECURSIVE reach(name) AS (
                SELECT @Name::text
                UNION
                SELECT d.dependency
                FROM reach r
                JOIN fleet.extensions e ON e.name = r.name
                CROSS JOIN LATERAL unnest(e.dependencies) AS d(dependency)
            )
            SELECT e.id, e.name, e.version, e.dependencies FROM fleet.extensions e JOIN reach r ON r.name = e.name
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var name = await db.ExecuteScalarAsync<string>(Root, new { query.Id }, cancellationToken)
                ?? throw new NotFoundException($"Extension '{query.Id}' not found");
            var registry = (await db.QueryAsync<Registered>(Reachable, new { Name = name }, cancellationToken)).ToDictionary(row => row.Name, StringComparer.Ordinal);
            return Resolve(query.Id, name, registry);
        }

        /// <summary>Depth-first post-order from <paramref name="root"/>: a node is listed after all its dependencies;
        /// meeting a node that is still on the path is a cycle.</summary>
        internal static Response Resolve(Guid id, string root, IReadOnlyDictionary<string, Registered> registry)
        {
            var order = new List<string>();
            var nodes = new Dictionary<string, Node>(StringComparer.Ordinal);
            var edges = new List<Edge>();
            var done = new HashSet<string>(StringComparer.Ordinal);
            var path = new List<string>();

            void Visit(string name, int depth)
            {
                if (path.Contains(name, StringComparer.Ordinal))
                {
                    var cycle = path.Skip(path.IndexOf(name)).Append(name);
                    throw BadRequestException.ForField("dependencies", $"Dependency cycle: {string.Join(" -> ", cycle)}");
                }

                if (done.Contains(name))
                {
                    return;
                }

                registry.TryGetValue(name, out var extension);
                nodes[name] = new Node(name, extension?.Id, extension?.Version, extension is not null, depth);
                path.Add(name);
                foreach (var dependency in extension?.Dependencies ?? [])
                {
                    edges.Add(new Edge(name, dependency));
                    Visit(dependency, depth + 1);
                }

                path.RemoveAt(path.Count - 1);
                done.Add(name);
                order.Add(name);
            }

            Visit(root, 0);
            var dependencies = order.Where(name => name != root).ToList();
            var missing = dependencies.Where(name => !nodes[name].Registered).ToList();
            return new Response(id, root, dependencies, missing, new Graph([.. nodes.Values], edges));
        }
    }

    /// <summary>A registered extension (init properties: Dapper cannot bind an array column to a constructor parameter).</summary>
    internal sealed record Registered
    {
        public Guid Id { get; init; }

        public string Name { get; init; } = string.Empty;

        public string Version { get; init; } = string.Empty;

        public string[] Dependencies { get; init; } = [];
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/extensions/{id}/dependencies", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetExtensionDependencies))
                .WithTags(FleetRoutes.Extensions)
                .WithSummary("Resolved dependency graph (install order; a cycle is a 400)")
                .ProducesErrors(400, 401, 403, 404);
    }
}
