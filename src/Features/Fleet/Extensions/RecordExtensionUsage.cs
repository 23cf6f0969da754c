using System.Text.Json.Serialization;
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

namespace Capstan.Features.Fleet.Extensions;

/// <summary><c>POST /api/v1/extensions/usage</c> (seed 004): <c>{extension_id, instance_id, version, action:
/// install|remove, install_duration_ms?, failed?, error?}</c>. An install closes the pair's previous active record,
/// adds a new one and, unless it failed, counts a download → 201 <c>{recorded: true, usage}</c>. A removal closes the
/// latest active record → 200 <c>{recorded: true, usage}</c> (<c>usage</c> null when none was active). Unknown extension
/// or instance (or one the caller cannot see) is a 404.</summary>
public static class RecordExtensionUsage
{
    public sealed record Command(
        [property: JsonPropertyName("extension_id")] Guid? ExtensionId,
        [property: JsonPropertyName("instance_id")] Guid? InstanceId,
        [property: JsonPropertyName("version")] string? Version,
        [property: JsonPropertyName("action")] string? Action,
        [property: JsonPropertyName("install_duration_ms")] long? InstallDurationMs,
        [property: JsonPropertyName("failed")] bool? Failed,
        [property: JsonPropertyName("error")] string? Error) : ICommand<Response>;

    public sealed record Response([property: JsonPropertyName("recorded")] bool Recorded, [property: JsonPropertyName("usage")] UsageView? Usage)
    {
        [JsonIgnore]
        public bool Created { get; init; }
    }

    public sealed record UsageView(
        [property: JsonPropertyName("id")] Guid Id,
        [property: JsonPropertyName("extension_id")] Guid ExtensionId,
        [property: JsonPropertyName("instance_id")] Guid InstanceId,
        [property: JsonPropertyName("version")] string Version,
        [property: JsonPropertyName("installed_at")] DateTime InstalledAt,
        [property: JsonPropertyName("removed_at")] DateTime? RemovedAt,
        [property: JsonPropertyName("install_duration_ms")] long? InstallDurationMs,
        [property: JsonPropertyName("failed")] bool Failed,
        [property: JsonPropertyName("error")] string? Error);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            // NotEmpty alone lets Guid.Empty through on a Guid?: an all-zero id is a 400, not an unknown id.
            RuleFor(command => command.ExtensionId).NotEmpty().NotEqual(Guid.Empty).OverridePropertyName("extension_id");
            RuleFor(command => command.InstanceId).NotEmpty().NotEqual(Guid.Empty).OverridePropertyName("instance_id");
            RuleFor(command => command.Action).Must(action => action is "install" or "remove").OverridePropertyName("action")
                .WithMessage("action must be install or remove");
            RuleFor(command => command.Version).NotEmpty().MaximumLength(64).When(command => command.Action == "install").OverridePropertyName("version");
            RuleFor(command => command.Version).MaximumLength(64).OverridePropertyName("version");
            RuleFor(command => command.InstallDurationMs).InclusiveBetween(0, 86_400_000).When(command => command.InstallDurationMs is not null)
                .OverridePropertyName("install_duration_ms");
            RuleFor(command => command.Error).MaximumLength(4000).OverridePropertyName("error");
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, TimeProvider clock) : IRequestHandler<Command, Response>
    {
        private const string Targets = $"""
            SELECT (SELECT name FROM fleet.extensions WHERE id = @ExtensionId) AS extension_name,
                   (SELECT i.name FROM fleet.instances i WHERE i.id = @InstanceId AND {FleetVisibility.Predicate}) AS instance_name
            """;

        private const string Install = """
            UPDATE fleet.extension_usages SET removed_at = @Now WHERE extension_id = @ExtensionId AND instance_id = @InstanceId AND removed_at IS NULL;
            INSERT INTO fleet.extension_usages (id, extension_id, instance_id, version, installed_at, install_duration_ms, failed, error)
            VALUES (@Id, @ExtensionId, @InstanceId, @Version, @Now, @InstallDurationMs, @Failed, @Error);
            UPDATE fleet.extensions SET download_count = download_count + 1 WHERE id = @ExtensionId AND NOT @Failed;
            """;

        private const string Remove = """
            UPDATE fleet.extension_usages SET removed_at = @Now
            WHERE id = (SELECT id FROM fleet.extension_usages WHERE extension_id = @ExtensionId AND instance_id = @InstanceId AND removed_at IS NULL
                        ORDER BY installed_at DESC, id DESC LIMIT 1)
            RETURNING id
            """;

        private const string Select = """
            SELECT id, extension_id, instance_id, version, installed_at, removed_at, install_duration_ms, failed, error
            FROM fleet.extension_usages WHERE id = @Id
            """;

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            var targets = await db.QuerySingleAsync<TargetRow>(Targets, new { command.ExtensionId, command.InstanceId, scope.SeesAllTeams, scope.TeamIds }, cancellationToken);
            if (targets.ExtensionName is null)
            {
                throw new NotFoundException($"Extension '{command.ExtensionId}' not found");
            }

            if (targets.InstanceName is null)
            {
                throw new NotFoundException($"Instance '{command.InstanceId}' not found");
            }

            var now = clock.GetUtcNow().UtcDateTime;
            Guid? id;
            if (command.Action == "install")
            {
                id = Guid.CreateVersion7();
                await db.ExecuteAsync(
                    Install,
                    new { Id = id, command.ExtensionId, command.InstanceId, Version = command.Version!.Trim(), Now = now, command.InstallDurationMs, Failed = command.Failed ?? false, command.Error },
                    cancellationToken);
            }
            else
            {
                id = await db.ExecuteScalarAsync<Guid?>(Remove, new { command.ExtensionId, command.InstanceId, Now = now }, cancellationToken);
            }

            audit.Record($"extension.{command.Action}", "extension", command.ExtensionId.ToString(), targets.ExtensionName, new
            {
                instance_id = command.InstanceId,
                instance = targets.InstanceName,
                command.Version,
                failed = command.Failed ?? false,
            });
            var usage = id is null ? null : await db.QuerySingleAsync<UsageView>(Select, new { Id = id }, cancellationToken);
            return new Response(true, usage) { Created = command.Action == "install" };
        }

        private sealed record TargetRow(string? ExtensionName, string? InstanceName);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/extensions/usage", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var response = await mediator.Send(command, cancellationToken);
                    return response.Created ? Results.Created((string?)null, response) : Results.Ok(response);
                })
                .RequirePermission(Permissions.ExtensionUsageRecord)
                .WithName(nameof(RecordExtensionUsage))
                .WithTags(FleetRoutes.Extensions)
                .WithSummary("Record an extension install or removal")
                .ProducesErrors(400, 401, 403, 404);
    }
}
