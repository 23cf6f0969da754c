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

/// <summary><c>GET /api/v1/extensions/usage/matrix</c> (seed 004): which extension is installed where, from active usage
/// records (not removed) on instances the caller can see: <c>matrix[instanceId][extensionId] = {installed, version,
/// failed, installed_at}</c> (the latest record of the pair), the extensions and instances that appear. Narrowed by
/// <c>instanceIds</c> and <c>extensionIds</c> (comma-separated UUIDs) and <c>from</c> (installed at or after).</summary>
public static class GetUsageMatrix
{
    public sealed record Query(Guid[] InstanceIds, Guid[] ExtensionIds, DateTime? From) : IQuery<Response>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.InstanceIds).Must(ids => ids.Length <= 1000).WithMessage("at most 1000 instanceIds").OverridePropertyName("instanceIds");
            RuleFor(query => query.ExtensionIds).Must(ids => ids.Length <= 1000).WithMessage("at most 1000 extensionIds").OverridePropertyName("extensionIds");
        }
    }

    public sealed record Response(
        [property: JsonPropertyName("matrix")] IReadOnlyDictionary<Guid, Dictionary<Guid, Cell>> Matrix,
        [property: JsonPropertyName("extensions")] IReadOnlyList<MatrixExtension> Extensions,
        [property: JsonPropertyName("instance_ids")] IReadOnlyList<Guid> InstanceIds);

    public sealed record Cell(
        [property: JsonPropertyName("installed")] bool Installed,
        [property: JsonPropertyName("version")] string Version,
        [property: JsonPropertyName("failed")] bool Failed,
        [property: JsonPropertyName("installed_at")] DateTime InstalledAt);

    public sealed record MatrixExtension(
        [property: JsonPropertyName("id")] Guid Id,
        [property: JsonPropertyName("name")] string Name,
        [property: JsonPropertyName("display_name")] string DisplayName,
        [property: JsonPropertyName("category")] string Category);

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Response>
    {
        private const string Select = $"""
            SELECT DISTINCT ON (u.instance_id, u.extension_id)
                   u.instance_id, u.extension_id, u.version, u.failed, u.installed_at, e.name, e.display_name, e.category
            FROM fleet.extension_usages u
            JOIN fleet.extensions e ON e.id = u.extension_id
            JOIN fleet.instances i ON i.id = u.instance_id
            WHERE u.removed_at IS NULL AND {FleetVisibility.Predicate}
              AND (cardinality(@InstanceIds::uuid[]) = 0 OR u.instance_id = ANY(@InstanceIds))
              AND (cardinality(@ExtensionIds::uuid[]) = 0 OR u.extension_id = ANY(@ExtensionIds))
              AND (@From::timestamptz IS NULL OR u.installed_at >= @From)
            ORDER BY u.instance_id, u.extension_id, u.installed_at DESC, u.id DESC
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            var rows = await db.QueryAsync<Row>(
                Select, new { query.InstanceIds, query.ExtensionIds, query.From, scope.SeesAllTeams, scope.TeamIds }, cancellationToken);
            var matrix = rows.GroupBy(row => row.InstanceId).ToDictionary(
                group => group.Key, group => group.ToDictionary(row => row.ExtensionId, row => new Cell(true, row.Version, row.Failed, row.InstalledAt)));
            var extensions = rows.DistinctBy(row => row.ExtensionId).OrderBy(row => row.Name, StringComparer.Ordinal)
                .Select(row => new MatrixExtension(row.ExtensionId, row.Name, row.DisplayName, row.Category)).ToList();
            return new Response(matrix, extensions, [.. matrix.Keys.Order()]);
        }

        private sealed record Row(Guid InstanceId, Guid ExtensionId, string Version, bool Failed, DateTime InstalledAt, string Name, string DisplayName, string Category);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/extensions/usage/matrix", async (string? instanceIds, string? extensionIds, DateTime? from, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(Ids(instanceIds, "instanceIds"), Ids(extensionIds, "extensionIds"), from?.ToUniversalTime()), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetUsageMatrix))
                .WithTags(FleetRoutes.Extensions)
                .WithSummary("Usage heatmap matrix (instances × extensions)")
                .ProducesErrors(400, 401, 403);

        private static Guid[] Ids(string? csv, string field) =>
            [.. (csv ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(value => Guid.TryParse(value, out var id) ? id : throw BadRequestException.ForField(field, $"{field} must be comma-separated UUIDs"))
                .Distinct()];
    }
}
