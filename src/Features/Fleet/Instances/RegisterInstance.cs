using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Events;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;

namespace Capstan.Features.Fleet.Instances;

/// <summary><c>POST /api/v1/instances</c> (seed 004): registers an instance or re-registers it, by name among the
/// instances not destroyed (reference sindri.md §7.1). Accepts the console's body (<c>name</c>, <c>configHash</c>,
/// <c>geo</c>…) and the Draupnir agent's (<c>instance_id</c>, <c>hostname</c>, <c>agent_version</c>…). The instance
/// becomes RUNNING, gets coordinates (region registry, then the agent's <c>geo</c>, then <c>geo_lat</c>/<c>geo_lon</c>
/// tags) and a DEPLOY event. 201 when created, 200 when an existing instance was re-registered.</summary>
public static partial class RegisterInstance
{
    public sealed record GeoInput(double? Lat, double? Lon, string? City, string? Label, string? Source);

    public sealed record Command : ICommand<Result>
    {
        public string? Name { get; init; }

        public string? Provider { get; init; }

        public string? Region { get; init; }

        public string? Distro { get; init; }

        public string[]? Extensions { get; init; }

        public string? ConfigHash { get; init; }

        public string? SshEndpoint { get; init; }

        public string? DockerHost { get; init; }

        public JsonElement? Tags { get; init; }

        public GeoInput? Geo { get; init; }

        public Guid? TeamId { get; init; }

        public string? AgentVersion { get; init; }

        public string? Os { get; init; }

        public string? Arch { get; init; }

        /// <summary>Draupnir's spelling: its own instance id, resolved to an existing instance's name when it is one.</summary>
        [JsonPropertyName("instance_id")]
        public string? AgentInstanceId { get; init; }

        [JsonPropertyName("hostname")]
        public string? Hostname { get; init; }

        [JsonPropertyName("agent_version")]
        public string? AgentVersionSnake { get; init; }
    }

    public sealed record Result(InstanceView Instance, bool Created);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Name).MaximumLength(128).Matches(FleetVocabulary.NamePattern)
                .WithMessage("name must be lower-case letters, digits and inner dashes").When(command => command.Name is not null);
            RuleFor(command => command).Must(command => command.Name is not null || command.AgentInstanceId is not null || command.Hostname is not null)
                .WithMessage("name is required").OverridePropertyName("name");
            RuleFor(command => command.AgentInstanceId).MaximumLength(128);
            RuleFor(command => command.Hostname).MaximumLength(253);
            RuleFor(command => command.Provider).NotEmpty().Must(provider => FleetVocabulary.IsOneOf(provider, FleetVocabulary.Providers))
                .WithMessage($"provider must be one of: {string.Join(", ", FleetVocabulary.Providers)}");
            RuleFor(command => command.Region).MaximumLength(64);
            RuleFor(command => command.Distro).Must(distro => FleetVocabulary.IsOneOf(distro, FleetVocabulary.Distros))
                .When(command => command.Distro is not null).WithMessage($"distro must be one of: {string.Join(", ", FleetVocabulary.Distros)}");
            RuleFor(command => command.Extensions).Must(extensions => extensions!.Length <= 200).When(command => command.Extensions is not null)
                .WithMessage("at most 200 extensions");
            RuleForEach(command => command.Extensions).NotEmpty().MaximumLength(128).OverridePropertyName("extensions");
            RuleFor(command => command.ConfigHash).Matches("^[0-9a-f]{64}$").When(command => command.ConfigHash is not null)
                .WithMessage("configHash must be 64 lower-case hex characters (SHA-256)");
            RuleFor(command => command.SshEndpoint).MaximumLength(256);
            RuleFor(command => command.DockerHost).MaximumLength(256);
            RuleFor(command => command.Tags).Must(tags => tags!.Value.ValueKind == JsonValueKind.Object && tags.Value.EnumerateObject().Count() <= 50)
                .When(command => command.Tags is { ValueKind: not JsonValueKind.Null })
                .WithMessage("tags must be an object with at most 50 entries");
            RuleFor(command => command.Geo!.Lat).InclusiveBetween(-90, 90).When(command => command.Geo?.Lat is not null).OverridePropertyName("geo.lat");
            RuleFor(command => command.Geo!.Lon).InclusiveBetween(-180, 180).When(command => command.Geo?.Lon is not null).OverridePropertyName("geo.lon");
            RuleFor(command => command.AgentVersion).MaximumLength(64);
            RuleFor(command => command.AgentVersionSnake).MaximumLength(64);
            RuleFor(command => command.Os).MaximumLength(64);
            RuleFor(command => command.Arch).MaximumLength(32);
        }
    }

    internal sealed partial class Handler(DbSession db, RequestContext request, AuditTrail audit, EventHub hub, RateLimiter rateLimiter, IConfiguration configuration, TimeProvider clock)
        : IRequestHandler<Command, Result>
    {
        private const string ExistingName = "SELECT name FROM fleet.instances WHERE id::text = @AgentInstanceId";

        private const string LiveByName = "SELECT id, team_id FROM fleet.instances WHERE name = @Name AND status <> 'DESTROYED'";

        private const string RegionCoordinates = "SELECT lat, lon, label FROM fleet.region_coordinates WHERE provider = @Provider AND region = @Region";

        private const string Upsert = $"""
            INSERT INTO fleet.instances AS i
                (id, name, provider, region, distro, extensions, config_hash, ssh_endpoint, docker_host, status, team_id, tags,
                 geo_lat, geo_lon, geo_label, geo_source, agent_version, os, arch, created_by, created_at, updated_at)
            VALUES
                (@Id, @Name, @Provider, @Region, @Distro, @Extensions, @ConfigHash, @SshEndpoint, @DockerHost, 'RUNNING', @TeamId,
                 CAST(@Tags AS jsonb), @GeoLat, @GeoLon, @GeoLabel, @GeoSource, @AgentVersion, @Os, @Arch, @CreatedBy, @Now, @Now)
            ON CONFLICT (name) WHERE status <> 'DESTROYED' DO UPDATE SET
                provider = EXCLUDED.provider,
                region = EXCLUDED.region,
                distro = COALESCE(EXCLUDED.distro, i.distro),
                extensions = CASE WHEN @ExtensionsGiven THEN EXCLUDED.extensions ELSE i.extensions END,
                config_hash = COALESCE(EXCLUDED.config_hash, i.config_hash),
                ssh_endpoint = COALESCE(EXCLUDED.ssh_endpoint, i.ssh_endpoint),
                docker_host = COALESCE(EXCLUDED.docker_host, i.docker_host),
                status = 'RUNNING',
                team_id = COALESCE(EXCLUDED.team_id, i.team_id),
                tags = CASE WHEN @TagsGiven THEN EXCLUDED.tags ELSE i.tags END,
                geo_lat = EXCLUDED.geo_lat, geo_lon = EXCLUDED.geo_lon, geo_label = EXCLUDED.geo_label, geo_source = EXCLUDED.geo_source,
                agent_version = COALESCE(EXCLUDED.agent_version, i.agent_version),
                os = COALESCE(EXCLUDED.os, i.os),
                arch = COALESCE(EXCLUDED.arch, i.arch),
                updated_at = EXCLUDED.updated_at
            RETURNING {InstanceRow.Columns}, (xmax = 0) AS inserted
            """;

        private const string RecordEvent = """
            INSERT INTO fleet.instance_events (id, instance_id, event_type, occurred_at, actor_id, metadata)
            VALUES (@EventId, @InstanceId, 'DEPLOY', @Now, @ActorId, CAST(@Metadata AS jsonb))
            """;

        public async Task<Result> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var perMinute = configuration.GetValue("Fleet:RegisterRateLimit:PermitPerMinute", 120);
            await rateLimiter.EnforceAsync($"fleet-register:{caller.UserId}", new RateLimitRule(perMinute, TimeSpan.FromMinutes(1)), cancellationToken);

            var scope = FleetVisibility.Of(caller);
            if (command.TeamId is { } teamId && !scope.CanSee(teamId))
            {
                throw BadRequestException.ForField("teamId", "teamId must be a team you belong to");
            }

            var name = await ResolveNameAsync(command, cancellationToken);
            var existing = await db.QuerySingleOrDefaultAsync<LiveInstance>(LiveByName, new { Name = name }, cancellationToken);
            if (existing is not null && !scope.CanSee(existing.TeamId))
            {
                throw new ConflictException($"Instance name '{name}' is taken by an instance of another team");
            }

            var provider = command.Provider!.Trim().ToLowerInvariant();
            var region = string.IsNullOrWhiteSpace(command.Region) ? null : command.Region.Trim();
            var geo = await ResolveGeoAsync(command, provider, region, cancellationToken);
            var now = clock.GetUtcNow().UtcDateTime;
            var tagsGiven = command.Tags is { ValueKind: JsonValueKind.Object };
            var row = await db.QuerySingleAsync<RegisteredRow>(
                Upsert,
                new
                {
                    Id = Guid.CreateVersion7(),
                    Name = name,
                    Provider = provider,
                    Region = region,
                    Distro = command.Distro?.Trim().ToLowerInvariant(),
                    Extensions = (command.Extensions ?? []).Select(extension => extension.Trim()).Distinct().ToArray(),
                    ExtensionsGiven = command.Extensions is not null,
                    command.ConfigHash,
                    command.SshEndpoint,
                    command.DockerHost,
                    command.TeamId,
                    Tags = tagsGiven ? command.Tags!.Value.GetRawText() : "{}",
                    TagsGiven = tagsGiven,
                    GeoLat = geo?.Lat,
                    GeoLon = geo?.Lon,
                    GeoLabel = geo?.Label,
                    GeoSource = geo?.Source,
                    AgentVersion = command.AgentVersion ?? command.AgentVersionSnake,
                    command.Os,
                    command.Arch,
                    CreatedBy = caller.UserId,
                    Now = now,
                },
                cancellationToken);

            var metadata = new { triggered_by = "api", provider, reregistered = !row.Inserted };
            await db.ExecuteAsync(
                RecordEvent,
                new { EventId = Guid.CreateVersion7(), InstanceId = row.Id, Now = now, ActorId = caller.UserId, Metadata = JsonSerializer.Serialize(metadata) },
                cancellationToken);
            await hub.PublishAsync(db, $"fleet.instances.{row.Id}", new { eventType = "DEPLOY", instanceId = row.Id, status = "RUNNING", metadata, ts = now }, cancellationToken);
            audit.Record(row.Inserted ? "instance.register" : "instance.reregister", "instance", row.Id.ToString(), row.Name, new { provider, region });
            return new Result(row.ToView(now), row.Inserted);
        }

        private async Task<string> ResolveNameAsync(Command command, CancellationToken cancellationToken)
        {
            if (command.Name is { } name)
            {
                return name;
            }

            if (command.AgentInstanceId is { } agentId && await db.ExecuteScalarAsync<string>(ExistingName, new { AgentInstanceId = agentId }, cancellationToken) is { } known)
            {
                return known;
            }

            // Draupnir names an instance by host name or its own id; make that a valid instance name.
            var candidate = Invalid().Replace((command.Hostname ?? command.AgentInstanceId!).Trim().ToLowerInvariant(), "-").Trim('-');
            if (candidate.Length > 128)
            {
                candidate = candidate[..128].TrimEnd('-');
            }

            return candidate.Length > 0 ? candidate : throw BadRequestException.ForField("name", "name is required");
        }

        private async Task<Geo?> ResolveGeoAsync(Command command, string provider, string? region, CancellationToken cancellationToken)
        {
            if (region is not null
                && await db.QuerySingleOrDefaultAsync<Geo>(RegionCoordinates, new { Provider = provider, Region = region }, cancellationToken) is { } registry)
            {
                return registry with { Source = "region_registry" };
            }

            if (command.Geo is { Lat: { } lat, Lon: { } lon } geo)
            {
                return new Geo { Lat = lat, Lon = lon, Label = geo.Label ?? geo.City, Source = geo.Source ?? "cloud_metadata" };
            }

            if (command.Tags is { ValueKind: JsonValueKind.Object } tags
                && TagNumber(tags, "geo_lat") is { } tagLat and >= -90 and <= 90
                && TagNumber(tags, "geo_lon") is { } tagLon and >= -180 and <= 180)
            {
                return new Geo { Lat = tagLat, Lon = tagLon, Source = "user_tags" };
            }

            return null;
        }

        private static double? TagNumber(JsonElement tags, string name) =>
            tags.TryGetProperty(name, out var value) switch
            {
                false => null,
                true when value.ValueKind == JsonValueKind.Number => value.GetDouble(),
                true when value.ValueKind == JsonValueKind.String
                    && double.TryParse(value.GetString(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var parsed) => parsed,
                _ => null,
            };

        [GeneratedRegex("[^a-z0-9-]+")]
        private static partial Regex Invalid();
    }

    internal sealed record Geo
    {
        public double Lat { get; init; }

        public double Lon { get; init; }

        public string? Label { get; init; }

        public string? Source { get; init; }
    }

    internal sealed record RegisteredRow : InstanceRow
    {
        public bool Inserted { get; init; }
    }

    internal sealed record LiveInstance
    {
        public Guid Id { get; init; }

        public Guid? TeamId { get; init; }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/instances", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var result = await mediator.Send(command, cancellationToken);
                    return result.Created
                        ? Results.Created($"/api/v1/instances/{result.Instance.Id}", result.Instance)
                        : Results.Ok(result.Instance);
                })
                .RequirePermission(Permissions.InstanceRegister)
                .WithName(nameof(RegisterInstance))
                .WithTags(FleetRoutes.Instances)
                .WithSummary("Register or re-register an instance")
                .Produces<InstanceView>(StatusCodes.Status201Created)
                .Produces<InstanceView>()
                .ProducesErrors(400, 401, 403, 409, 429);
    }
}
