using System.Text.Json;
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

/// <summary><c>GET /api/v1/instances/{id}</c> (seed 004): the instance and its last heartbeat (null before the
/// first), or 404 for an unknown instance or one of a team the caller is not in.</summary>
public static class GetInstance
{
    public sealed record Query(Guid Id) : IQuery<InstanceDetail>;

    public sealed record InstanceDetail(
        Guid Id,
        string Name,
        string Provider,
        string? Region,
        string? Distro,
        string[] Extensions,
        string? ConfigHash,
        string? SshEndpoint,
        string? DockerHost,
        string Status,
        Guid? TeamId,
        JsonElement Tags,
        GeoView? Geo,
        string? AgentVersion,
        string? Os,
        string? Arch,
        bool Online,
        DateTime? LastHeartbeatAt,
        DateTime CreatedAt,
        DateTime UpdatedAt,
        IReadOnlyList<string> AvailableActions,
        HeartbeatView? LastHeartbeat);

    public sealed record HeartbeatView(
        double CpuPercent, long MemoryUsedBytes, long MemoryTotalBytes, long DiskUsedBytes, long DiskTotalBytes, long UptimeSeconds, DateTime Timestamp);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, RequestContext request, TimeProvider clock) : IRequestHandler<Query, InstanceDetail>
    {
        // One round trip: the instance and its latest heartbeat (none before the first) side by side.
        private const string Select = $"""
            SELECT {InstanceRow.Columns},
                   h.cpu_percent AS heartbeat_cpu_percent, h.memory_used AS heartbeat_memory_used_bytes,
                   h.memory_total AS heartbeat_memory_total_bytes, h.disk_used AS heartbeat_disk_used_bytes,
                   h.disk_total AS heartbeat_disk_total_bytes, h.uptime_seconds AS heartbeat_uptime_seconds,
                   h.recorded_at AS heartbeat_timestamp
            FROM fleet.instances i
            LEFT JOIN LATERAL (
                SELECT cpu_percent, memory_used, memory_total, disk_used, disk_total, uptime_seconds, recorded_at
                FROM fleet.heartbeats WHERE instance_id = i.id ORDER BY recorded_at DESC LIMIT 1
            ) h ON true
            WHERE i.id = @Id AND {FleetVisibility.Predicate}
            """;

        public async Task<InstanceDetail> Handle(Query query, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            var row = await db.QuerySingleOrDefaultAsync<InstanceWithHeartbeatRow>(Select, new { query.Id, scope.SeesAllTeams, scope.TeamIds }, cancellationToken)
                ?? throw new NotFoundException($"Instance '{query.Id}' not found");
            var view = row.ToView(clock.GetUtcNow().UtcDateTime);
            return new InstanceDetail(
                view.Id, view.Name, view.Provider, view.Region, view.Distro, view.Extensions, view.ConfigHash, view.SshEndpoint, view.DockerHost,
                view.Status, view.TeamId, view.Tags, view.Geo, view.AgentVersion, view.Os, view.Arch, view.Online, view.LastHeartbeatAt,
                view.CreatedAt, view.UpdatedAt, InstanceLifecycle.AvailableActions(view.Status),
                row.HeartbeatTimestamp is not { } timestamp
                    ? null
                    : new HeartbeatView(row.HeartbeatCpuPercent ?? 0, row.HeartbeatMemoryUsedBytes ?? 0, row.HeartbeatMemoryTotalBytes ?? 0,
                        row.HeartbeatDiskUsedBytes ?? 0, row.HeartbeatDiskTotalBytes ?? 0, row.HeartbeatUptimeSeconds ?? 0, timestamp));
        }
    }

    internal sealed record InstanceWithHeartbeatRow : InstanceRow
    {
        public double? HeartbeatCpuPercent { get; init; }

        public long? HeartbeatMemoryUsedBytes { get; init; }

        public long? HeartbeatMemoryTotalBytes { get; init; }

        public long? HeartbeatDiskUsedBytes { get; init; }

        public long? HeartbeatDiskTotalBytes { get; init; }

        public long? HeartbeatUptimeSeconds { get; init; }

        public DateTime? HeartbeatTimestamp { get; init; }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/instances/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetInstance))
                .WithTags(FleetRoutes.Instances)
                .WithSummary("Instance details and last heartbeat")
                .ProducesErrors(400, 401, 403, 404);
    }
}
