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

/// <summary><c>GET /api/v1/instances/{id}/processes</c> (seed 004): the top processes (by CPU) of the latest heartbeat
/// that carried a process list, as the agent reported them (snake_case, as the upstream's clients read it). An instance
/// whose agent never sent one has an empty list and a null timestamp.</summary>
public static class GetInstanceProcesses
{
    public sealed record Query(Guid Id, int Limit) : IQuery<Response>;

    public sealed record Response(
        [property: JsonPropertyName("instance_id")] Guid InstanceId,
        [property: JsonPropertyName("timestamp")] DateTime? Timestamp,
        [property: JsonPropertyName("processes")] IReadOnlyList<ProcessView> Processes);

    public sealed record ProcessView(
        [property: JsonPropertyName("pid")] long Pid,
        [property: JsonPropertyName("name")] string Name,
        [property: JsonPropertyName("cpu_percent")] double CpuPercent,
        [property: JsonPropertyName("memory_bytes")] long MemoryBytes,
        [property: JsonPropertyName("memory_percent")] double MemoryPercent,
        [property: JsonPropertyName("status")] string Status,
        [property: JsonPropertyName("user")] string? User,
        [property: JsonPropertyName("command")] string? Command);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.Id).NotEmpty();
            RuleFor(query => query.Limit).InclusiveBetween(1, 100);
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Response>
    {
        private const string Exists = $"SELECT EXISTS (SELECT 1 FROM fleet.instances i WHERE i.id = @Id AND {FleetVisibility.Predicate})";

        private const string Latest = """
            SELECT recorded_at, memory_total, processes::text AS processes
            FROM fleet.heartbeats
            WHERE instance_id = @Id AND processes IS NOT NULL
            ORDER BY recorded_at DESC
            LIMIT 1
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            if (!await db.ExecuteScalarAsync<bool>(Exists, new { query.Id, scope.SeesAllTeams, scope.TeamIds }, cancellationToken))
            {
                throw new NotFoundException($"Instance '{query.Id}' not found");
            }

            var latest = await db.QuerySingleOrDefaultAsync<Row>(Latest, new { query.Id }, cancellationToken);
            if (latest is null)
            {
                return new Response(query.Id, null, []);
            }

            var processes = JsonSerializer.Deserialize<List<StoredProcess>>(latest.Processes) ?? [];
            return new Response(
                query.Id,
                latest.RecordedAt,
                [.. processes
                    .OrderByDescending(process => process.CpuPercent)
                    .Take(query.Limit)
                    .Select(process => new ProcessView(
                        process.Pid,
                        process.Name,
                        Math.Round(process.CpuPercent, 2),
                        process.MemoryBytes,
                        latest.MemoryTotal > 0 ? Math.Round(process.MemoryBytes * 100.0 / latest.MemoryTotal, 2) : 0,
                        process.Status ?? "running",
                        process.User,
                        process.Command))]);
        }
    }

    internal sealed record Row
    {
        public DateTime RecordedAt { get; init; }

        public long MemoryTotal { get; init; }

        public string Processes { get; init; } = string.Empty;
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/instances/{id}/processes", async (Guid id, int? limit, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id, limit ?? 10), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetInstanceProcesses))
                .WithTags(FleetRoutes.Metrics)
                .WithSummary("Top processes from the latest heartbeat")
                .ProducesErrors(400, 401, 403, 404);
    }
}
