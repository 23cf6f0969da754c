using System.Text.Json;
using System.Text.Json.Nodes;
using Capstan.Infrastructure.Audit;
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

namespace Capstan.Features.Fleet.Drift;

/// <summary><c>POST /api/v1/drift/snapshots/{instanceId}/trigger</c> (seed 004, operators): takes a snapshot now
/// (<see cref="DriftDetector"/>). An optional body <c>{actual: {env, network, resources, extensions, ...}}</c> adds what
/// the caller observed on the instance to what it reported → 201 <c>{snapshotId, driftStatus, findings, newEvents,
/// cleared}</c>; 404 unknown instance.</summary>
public static class TriggerDriftCheck
{
    public sealed record Command(Guid InstanceId, JsonObject? Actual) : ICommand<Response>;

    public sealed record Response(Guid SnapshotId, string DriftStatus, int Findings, int NewEvents, int Cleared);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.InstanceId).NotEmpty();
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, TimeProvider clock) : IRequestHandler<Command, Response>
    {
        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var scope = FleetVisibility.Of(caller);
            if (!await db.ExecuteScalarAsync<bool>(
                    $"SELECT EXISTS (SELECT 1 FROM fleet.instances i WHERE i.id = @Id AND {FleetVisibility.Predicate})", new { Id = command.InstanceId, scope.SeesAllTeams, scope.TeamIds }, cancellationToken))
            {
                throw new NotFoundException($"Instance '{command.InstanceId}' not found");
            }

            var result = await DriftDetector.SnapshotAsync(db, command.InstanceId, command.Actual, $"user:{caller.UserId}", clock.GetUtcNow().UtcDateTime, cancellationToken);
            audit.Record("drift.check", "instance", command.InstanceId.ToString(), null, new { result.SnapshotId, result.DriftStatus, result.Findings, result.NewEvents });
            return new Response(result.SnapshotId, result.DriftStatus, result.Findings, result.NewEvents, result.Cleared);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/drift/snapshots/{instanceId}/trigger", async (Guid instanceId, HttpRequest http, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    JsonObject? actual = null;
                    if (http.ContentLength is > 0 || http.Headers.TransferEncoding.Count > 0)
                    {
                        var body = await JsonNode.ParseAsync(http.Body, cancellationToken: cancellationToken);
                        if (body is not null and not JsonObject || (body is JsonObject json && json["actual"] is { } reported && reported is not JsonObject))
                        {
                            throw BadRequestException.ForField("actual", "actual must be an object of observed configuration");
                        }

                        actual = (body as JsonObject)?["actual"] as JsonObject;
                    }

                    var result = await mediator.Send(new Command(instanceId, (JsonObject?)actual?.DeepClone()), cancellationToken);
                    return TypedResults.Created($"/api/v1/drift/snapshots/{result.SnapshotId}", result);
                })
                .Accepts<JsonElement>("application/json")
                .RequirePermission(Permissions.DriftManage)
                .WithName(nameof(TriggerDriftCheck))
                .WithTags(FleetRoutes.Drift)
                .WithSummary("Manual drift check")
                .ProducesErrors(400, 401, 403, 404);
    }
}
