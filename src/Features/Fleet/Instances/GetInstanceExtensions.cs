using System.Text.Json;
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

namespace Capstan.Features.Fleet.Instances;

/// <summary><c>GET /api/v1/instances/{id}/extensions</c> (seed 004): each extension of the instance with its status.
/// The agent's reported state wins (<c>healthy</c>, <c>degraded</c>, <c>installing</c>, <c>error</c>…; an install
/// running for more than 15 minutes is <c>stalled</c>); an extension the agent said nothing about is <c>healthy</c> while
/// the instance runs and reports, else <c>unknown</c>.</summary>
public static class GetInstanceExtensions
{
    public static readonly TimeSpan StallAfter = TimeSpan.FromMinutes(15);

    public sealed record Query(Guid Id) : IQuery<Response>;

    public sealed record Response(Guid InstanceId, string InstanceStatus, IReadOnlyList<ExtensionView> Extensions);

    public sealed record ExtensionView(string Name, string Status, string? Version, DateTime? LastChecked);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, RequestContext request, TimeProvider clock) : IRequestHandler<Query, Response>
    {
        private const string Select = $"""
            SELECT i.status, i.extensions, i.extension_states::text AS extension_states, i.last_heartbeat_at
            FROM fleet.instances i WHERE i.id = @Id AND {FleetVisibility.Predicate}
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            var row = await db.QuerySingleOrDefaultAsync<Row>(Select, new { query.Id, scope.SeesAllTeams, scope.TeamIds }, cancellationToken)
                ?? throw new NotFoundException($"Instance '{query.Id}' not found");
            var now = clock.GetUtcNow().UtcDateTime;
            var states = (JsonSerializer.Deserialize<List<StoredState>>(row.ExtensionStates) ?? [])
                .GroupBy(state => state.Name, StringComparer.Ordinal)
                .ToDictionary(group => group.Key, group => group.Last(), StringComparer.Ordinal);
            var reporting = row.Status == "RUNNING" && row.LastHeartbeatAt is { } seen && now - seen < TimeSpan.FromMinutes(5);
            var names = row.Extensions.Concat(states.Keys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
            var extensions = names.Select(name =>
            {
                if (states.TryGetValue(name, out var state))
                {
                    var status = state.Status == "installing" && state.UpdatedAt is { } since && now - since > StallAfter ? "stalled" : state.Status;
                    return new ExtensionView(name, status, state.Version, state.UpdatedAt ?? row.LastHeartbeatAt);
                }

                return new ExtensionView(name, reporting ? "healthy" : "unknown", null, row.LastHeartbeatAt);
            }).ToList();
            return new Response(query.Id, row.Status, extensions);
        }
    }

    internal sealed record Row
    {
        public string Status { get; init; } = string.Empty;

        public string[] Extensions { get; init; } = [];

        public string ExtensionStates { get; init; } = string.Empty;

        public DateTime? LastHeartbeatAt { get; init; }
    }

    internal sealed record StoredState(
        [property: JsonPropertyName("name")] string Name,
        [property: JsonPropertyName("status")] string Status,
        [property: JsonPropertyName("version")] string? Version,
        [property: JsonPropertyName("updatedAt")] DateTime? UpdatedAt);

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/instances/{id}/extensions", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetInstanceExtensions))
                .WithTags(FleetRoutes.Metrics)
                .WithSummary("Extension status for an instance")
                .ProducesErrors(400, 401, 403, 404);
    }
}
