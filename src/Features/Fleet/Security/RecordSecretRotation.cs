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

namespace Capstan.Features.Fleet.Security;

/// <summary><c>POST /api/v1/security/secrets</c> (seed 004): <c>{instanceId, secretName (1..256), secretType (1..64),
/// lastRotated?, rotationDays? (1..3650, 90)}</c> records (or updates, by instance and name) when a secret on an
/// instance was last rotated. <c>nextRotation</c> = last + days; overdue when never rotated or past it. 201 when new,
/// 200 when updated; a last rotation in the future is a 400; an unknown or unseen instance a 404.</summary>
public static class RecordSecretRotation
{
    public sealed record Command(Guid? InstanceId, string? SecretName, string? SecretType, DateTime? LastRotated, int? RotationDays) : ICommand<Response>;

    public sealed record Response(Guid Id, Guid InstanceId, string SecretName, string SecretType, DateTime? LastRotated, DateTime? NextRotation, long RotationDays, bool IsOverdue)
    {
        [System.Text.Json.Serialization.JsonIgnore]
        public bool Created { get; init; }
    }

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.InstanceId).NotEmpty();
            RuleFor(command => command.SecretName).NotEmpty().MaximumLength(256);
            RuleFor(command => command.SecretType).NotEmpty().MaximumLength(64);
            RuleFor(command => command.RotationDays).InclusiveBetween(1, 3650).When(command => command.RotationDays is not null);
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, TimeProvider clock) : IRequestHandler<Command, Response>
    {
        private const string Instance = $"SELECT i.name FROM fleet.instances i WHERE i.id = @InstanceId AND {FleetVisibility.Predicate}";

        private const string Upsert = """
            INSERT INTO fleet.secret_rotations AS r (id, instance_id, secret_name, secret_type, last_rotated, next_rotation, rotation_days, is_overdue, created_at, updated_at)
            VALUES (@Id, @InstanceId, @SecretName, @SecretType, @LastRotated, @NextRotation, @RotationDays, @IsOverdue, @Now, @Now)
            ON CONFLICT (instance_id, secret_name) DO UPDATE
                SET secret_type = EXCLUDED.secret_type, last_rotated = EXCLUDED.last_rotated, next_rotation = EXCLUDED.next_rotation,
                    rotation_days = EXCLUDED.rotation_days, is_overdue = EXCLUDED.is_overdue, updated_at = EXCLUDED.updated_at
            RETURNING r.id, (r.xmax = 0) AS created
            """;

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            var instance = await db.ExecuteScalarAsync<string>(Instance, new { command.InstanceId, scope.SeesAllTeams, scope.TeamIds }, cancellationToken)
                ?? throw new NotFoundException($"Instance '{command.InstanceId}' not found");
            var now = clock.GetUtcNow().UtcDateTime;
            var last = command.LastRotated?.ToUniversalTime();
            if (last > now.AddMinutes(5))
            {
                throw BadRequestException.ForField("lastRotated", "lastRotated cannot be in the future");
            }

            var days = command.RotationDays ?? 90;
            DateTime? next = last?.AddDays(days);
            var overdue = next is null || next < now;
            var name = command.SecretName!.Trim();
            var type = command.SecretType!.Trim();
            var saved = await db.QuerySingleAsync<Saved>(
                Upsert,
                new { Id = Guid.CreateVersion7(), command.InstanceId, SecretName = name, SecretType = type, LastRotated = last, NextRotation = next, RotationDays = (long)days, IsOverdue = overdue, Now = now },
                cancellationToken);
            audit.Record("security.secret_rotation.record", "secret_rotation", saved.Id.ToString(), name, new { instance_id = command.InstanceId, instance, rotation_days = days });
            return new Response(saved.Id, command.InstanceId!.Value, name, type, last, next, days, overdue) { Created = saved.Created };
        }

        private sealed record Saved(Guid Id, bool Created);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/security/secrets", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var response = await mediator.Send(command, cancellationToken);
                    return response.Created ? Results.Created((string?)null, response) : Results.Ok(response);
                })
                .RequirePermission(Permissions.SecurityManage)
                .WithName(nameof(RecordSecretRotation))
                .WithTags(FleetRoutes.SecretRotations)
                .WithSummary("Upsert a secret rotation record")
                .Produces<Response>(201)
                .ProducesErrors(400, 401, 403, 404);
    }
}
