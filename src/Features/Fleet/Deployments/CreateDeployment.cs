using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Crypto;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Events;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using Capstan.Infrastructure.Tools;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Fleet.Deployments;

/// <summary>
/// <c>POST /api/v1/deployments</c> (seed 004): <c>{name, provider, region, vm_size?, memory_gb?, storage_gb?, yaml_config,
/// template_id?, docker_host?, secrets?}</c> (snake_case as the upstream wizard sends it, or camelCase) → 201
/// <c>{deployment}</c> PENDING. The YAML is checked (400 with the line of the problem); reserved secret names are refused
/// (400, audited as denied). The instance is created, or an idle one of that name (STOPPED, ERROR) taken over, as
/// DEPLOYING; a live one of that name is a 409. The <c>sindri</c> CLI runs the deployment in the background
/// (<see cref="DeploymentRunner"/>); without it configured (<c>Sindri:CliPath</c>) the route answers 503.
/// </summary>
public static class CreateDeployment
{
    public sealed record Command : ICommand<DeploymentEnvelope>
    {
        public string? Name { get; init; }

        public string? Provider { get; init; }

        public string? Region { get; init; }

        [JsonPropertyName("vm_size")]
        public string? VmSize { get; init; }

        [JsonPropertyName("memory_gb")]
        public int? MemoryGb { get; init; }

        [JsonPropertyName("storage_gb")]
        public int? StorageGb { get; init; }

        [JsonPropertyName("yaml_config")]
        public string? YamlConfig { get; init; }

        [JsonPropertyName("template_id")]
        public Guid? TemplateId { get; init; }

        [JsonPropertyName("docker_host")]
        public string? DockerHost { get; init; }

        public Dictionary<string, string>? Secrets { get; init; }
    }

    /// <summary>The camelCase spellings of the same fields, for clients that send them.</summary>
    public sealed record CamelCaseFields(string? VmSize, int? MemoryGb, int? StorageGb, string? YamlConfig, Guid? TemplateId, string? DockerHost);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Name).NotEmpty().MaximumLength(63).Matches(FleetVocabulary.NamePattern)
                .WithMessage("name must be lower-case letters, digits and inner dashes (at most 63)");
            RuleFor(command => command.Provider).Must(provider => FleetVocabulary.IsOneOf(provider, FleetVocabulary.DeploymentProviders))
                .WithMessage($"provider must be one of: {string.Join(", ", FleetVocabulary.DeploymentProviders)}");
            RuleFor(command => command.Region).NotEmpty().MaximumLength(64);
            RuleFor(command => command.VmSize).MaximumLength(64);
            RuleFor(command => command.MemoryGb).InclusiveBetween(1, 1024).When(command => command.MemoryGb is not null);
            RuleFor(command => command.StorageGb).InclusiveBetween(1, 16384).When(command => command.StorageGb is not null);
            RuleFor(command => command.YamlConfig).Cascade(CascadeMode.Stop).NotEmpty().Must(yaml => Encoding.UTF8.GetByteCount(yaml!) <= DeploymentConfig.MaxBytes)
                .WithMessage("yaml_config must be at most 64 KiB");
            RuleFor(command => command.DockerHost).MaximumLength(256);
            RuleFor(command => command.Secrets).Must(secrets => secrets!.Count <= 100 && secrets.All(pair => pair.Key.Length is > 0 and <= 128 && pair.Value is { Length: <= 65_536 }))
                .When(command => command.Secrets is not null).WithMessage("secrets must map at most 100 names to values");
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, EnvelopeCipher cipher, EventHub hub, SindriCli sindri, TimeProvider clock)
        : IRequestHandler<Command, DeploymentEnvelope>
    {
        private const string Live = "SELECT id, status FROM fleet.instances WHERE name = @Name AND status <> 'DESTROYED' FOR UPDATE";

        private const string TemplateExists = "SELECT EXISTS (SELECT 1 FROM fleet.deployment_templates WHERE id = @Id)";

        private const string CreateInstance = """
            INSERT INTO fleet.instances (id, name, provider, region, status, docker_host, created_by, created_at, updated_at)
            VALUES (@Id, @Name, @Provider, @Region, 'DEPLOYING', @DockerHost, @CreatedBy, @Now, @Now)
            """;

        private const string TakeOver = """
            UPDATE fleet.instances SET provider = @Provider, region = @Region, status = 'DEPLOYING', docker_host = COALESCE(@DockerHost, docker_host), updated_at = @Now
            WHERE id = @Id
            """;

        private const string Insert = $"""
            INSERT INTO fleet.deployments AS d
                (id, name, instance_id, template_id, config_hash, yaml_content, provider, region, vm_size, memory_gb, storage_gb, docker_host,
                 secrets_sealed, status, progress_percent, initiated_by, started_at)
            VALUES
                (@Id, @Name, @InstanceId, @TemplateId, @ConfigHash, @Yaml, @Provider, @Region, @VmSize, @MemoryGb, @StorageGb, @DockerHost,
                 @SecretsSealed, 'PENDING', 0, @InitiatedBy, @Now)
            RETURNING {DeploymentRow.Columns}
            """;

        public async Task<DeploymentEnvelope> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var summary = DeploymentConfig.Check(command.YamlConfig!, "yaml_config");
            if (command.Secrets?.Keys.FirstOrDefault(DeploymentConfig.IsReserved) is { } reserved)
            {
                await audit.WriteNowAsync(
                    new AuditEntry("deployment.reserved_secret", "deployment", null, command.Name, new { secret_name = reserved }, AuditResult.Denied), cancellationToken);
                throw BadRequestException.ForField("secrets", $"'{reserved}' is reserved by the platform and cannot be set by a deployment");
            }

            if (!sindri.IsAvailable)
            {
                throw new ServiceUnavailableException("Deployments need the sindri CLI, which is not configured: set Sindri:CliPath to its path");
            }

            if (command.TemplateId is { } templateId && !await db.ExecuteScalarAsync<bool>(TemplateExists, new { Id = templateId }, cancellationToken))
            {
                throw BadRequestException.ForField("template_id", $"Template '{templateId}' not found");
            }

            var now = clock.GetUtcNow().UtcDateTime;
            var provider = command.Provider!.Trim().ToLowerInvariant();
            var region = command.Region!.Trim();
            var live = await db.QuerySingleOrDefaultAsync<LiveInstance>(Live, new { command.Name }, cancellationToken);
            Guid instanceId;
            if (live is null)
            {
                instanceId = Guid.CreateVersion7();
                await db.ExecuteAsync(
                    CreateInstance, new { Id = instanceId, command.Name, Provider = provider, Region = region, command.DockerHost, CreatedBy = caller.UserId, Now = now }, cancellationToken);
            }
            else if (live.Status is "STOPPED" or "ERROR")
            {
                instanceId = live.Id;
                await db.ExecuteAsync(TakeOver, new { live.Id, Provider = provider, Region = region, command.DockerHost, Now = now }, cancellationToken);
            }
            else
            {
                throw new ConflictException($"Instance '{command.Name}' already exists with status {live.Status}");
            }

            var id = Guid.CreateVersion7();
            var secrets = command.Secrets is { Count: > 0 } values ? cipher.EncryptString(JsonSerializer.Serialize(values), $"deployments:{id}") : null;
            var row = await db.QuerySingleAsync<DeploymentRow>(
                Insert,
                new
                {
                    Id = id,
                    command.Name,
                    InstanceId = instanceId,
                    command.TemplateId,
                    ConfigHash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(command.YamlConfig!))),
                    Yaml = command.YamlConfig,
                    Provider = provider,
                    Region = region,
                    VmSize = command.VmSize ?? "medium",
                    MemoryGb = (long)(command.MemoryGb ?? 4),
                    StorageGb = (long)(command.StorageGb ?? 20),
                    command.DockerHost,
                    SecretsSealed = secrets,
                    InitiatedBy = caller.UserId,
                    Now = now,
                },
                cancellationToken);
            await hub.PublishAsync(db, $"fleet.deployments.{id}", new { type = "status", deployment_id = id, status = "PENDING", progress_percent = 0, instance_id = instanceId }, cancellationToken);
            audit.Record("deployment.create", "deployment", id.ToString(), command.Name,
                new { provider, region, instanceId, command.TemplateId, extensions = summary.Extensions, secretNames = command.Secrets?.Keys });
            return new DeploymentEnvelope(row.ToView());
        }
    }

    internal sealed record LiveInstance
    {
        public Guid Id { get; init; }

        public string Status { get; init; } = string.Empty;
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/deployments", async (HttpRequest http, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var command = await ReadAsync(http, cancellationToken);
                    var created = await mediator.Send(command, cancellationToken);
                    return TypedResults.Created($"/api/v1/deployments/{created.Deployment.Id}", created);
                })
                .RequirePermission(Permissions.DeploymentCreate)
                .WithName(nameof(CreateDeployment))
                .WithTags(FleetRoutes.Deployments)
                .WithSummary("Create a deployment from a YAML configuration")
                .Accepts<Command>("application/json")
                .Produces<DeploymentEnvelope>(StatusCodes.Status201Created)
                .ProducesErrors(400, 401, 403, 409, 503);

        /// <summary>Reads the body in either spelling: snake_case fields win, camelCase fill what they leave out.</summary>
        private static async Task<Command> ReadAsync(HttpRequest http, CancellationToken cancellationToken)
        {
            if (!http.HasJsonContentType())
            {
                throw new BadRequestException("Content-Type must be application/json");
            }

            using var document = await JsonDocument.ParseAsync(http.Body, default, cancellationToken);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new BadRequestException("The body must be a JSON object");
            }

            var command = document.RootElement.Deserialize<Command>(JsonSerializerOptions.Web)!;
            var camel = document.RootElement.Deserialize<CamelCaseFields>(JsonSerializerOptions.Web)!;
            return command with
            {
                VmSize = command.VmSize ?? camel.VmSize,
                MemoryGb = command.MemoryGb ?? camel.MemoryGb,
                StorageGb = command.StorageGb ?? camel.StorageGb,
                YamlConfig = command.YamlConfig ?? camel.YamlConfig,
                TemplateId = command.TemplateId ?? camel.TemplateId,
                DockerHost = command.DockerHost ?? camel.DockerHost,
            };
        }
    }
}
