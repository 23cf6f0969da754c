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
        private const string Select = $"""
            SELECT {InstanceRow.Columns} FROM fleet.instances i WHERE i.id = @Id AND {FleetVisibility.Predicate}
            """;

        private const string LastHeartbeat = """
            SELECT cpu_percent, memory_used AS memory_used_bytes, memory_total AS memory_total_bytes, disk_used AS disk_used_bytes,
                   disk_total AS disk_total_bytes, uptime_seconds, recorded_at AS timestamp
            FROM fleet.heartbeats WHERE instance_id = @Id ORDER BY recorded_at DESC LIMIT 1
            """;

        public async Task<InstanceDetail> Handle(Query query, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            var row = await db.QuerySingleOrDefaultAsync<InstanceRow>(Select, new { query.Id, scope.SeesAllTeams, scope.TeamIds }, cancellationToken)
                ?? throw new NotFoundException($"Instance '{query.Id}' not found");
            var heartbeat = await db.QuerySingleOrDefaultAsync<HeartbeatRow>(LastHeartbeat, new { query.Id }, cancellationToken);
            var view = row.ToView(clock.GetUtcNow().UtcDateTime);
            return new InstanceDetail(
                view.Id, view.Name, view.Provider, view.Region, view.Distro, view.Extensions, view.ConfigHash, view.SshEndpoint, view.DockerHost,
                view.Status, view.TeamId, view.Tags, view.Geo, view.AgentVersion, view.Os, view.Arch, view.Online, view.LastHeartbeatAt,
                view.CreatedAt, view.UpdatedAt, InstanceLifecycle.AvailableActions(view.Status),
                heartbeat is null
                    ? null
                    : new HeartbeatView(heartbeat.CpuPercent, heartbeat.MemoryUsedBytes, heartbeat.MemoryTotalBytes, heartbeat.DiskUsedBytes,
                        heartbeat.DiskTotalBytes, heartbeat.UptimeSeconds, heartbeat.Timestamp));
        }
    }

    internal sealed record HeartbeatRow
    {
        public double CpuPercent { get; init; }

        public long MemoryUsedBytes { get; init; }

        public long MemoryTotalBytes { get; init; }

        public long DiskUsedBytes { get; init; }

        public long DiskTotalBytes { get; init; }

        public long UptimeSeconds { get; init; }

        public DateTime Timestamp { get; init; }
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
