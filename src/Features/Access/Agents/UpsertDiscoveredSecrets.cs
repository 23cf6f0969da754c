using System.Text.Json;
using System.Text.Json.Serialization;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Access.Agents;

/// <summary><c>POST /api/v1/agents/{id}/secrets/bulk</c> (seed 003, agent): discovery reports what a provider holds —
/// metadata only — upserted by (cluster_name, provider_type, secret_ref): labels, version, checksum and provider config
/// are replaced, the row is marked present and seen now, source timestamps are kept when not sent. The whole batch is
/// validated first and lands in one transaction (upstream stopped half-way on a bad item). 200 <c>{upserted_ids,
/// count}</c>.</summary>
public static class UpsertDiscoveredSecrets
{
    public const int MaxItems = 5000;

    public sealed record Command(
        [property: JsonPropertyName("cluster_name")] string? ClusterName,
        [property: JsonPropertyName("provider_type")] string? ProviderType,
        [property: JsonPropertyName("provider_config")] JsonElement? ProviderConfig,
        [property: JsonPropertyName("items")] List<Item>? Items) : ICommand<Result>;

    public sealed record Item(
        [property: JsonPropertyName("secret_ref")] string? SecretRef,
        [property: JsonPropertyName("labels")] JsonElement? Labels,
        [property: JsonPropertyName("version")] string? Version,
        [property: JsonPropertyName("checksum")] string? Checksum,
        [property: JsonPropertyName("created_at_source")] DateTimeOffset? CreatedAtSource,
        [property: JsonPropertyName("updated_at_source")] DateTimeOffset? UpdatedAtSource);

    public sealed record Result(
        [property: JsonPropertyName("upserted_ids")] IReadOnlyList<Guid> UpsertedIds,
        [property: JsonPropertyName("count")] int Count);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.ClusterName).NotEmpty().WithMessage("cluster_name is required").MaximumLength(253);
            RuleFor(command => command.ProviderType).NotEmpty().WithMessage("provider_type is required").MaximumLength(100);
            RuleFor(command => command.ProviderConfig).Must(AccessJson.IsObjectOrAbsent).WithMessage("provider_config must be a JSON object");
            RuleFor(command => command.Items).Must(items => items is null || items.Count <= MaxItems).WithMessage($"items may hold at most {MaxItems} entries");
            RuleForEach(command => command.Items).ChildRules(item =>
            {
                item.RuleFor(entry => entry.SecretRef).NotEmpty().WithMessage("secret_ref is required").MaximumLength(1000);
                item.RuleFor(entry => entry.Labels).Must(AccessJson.IsStringMap).WithMessage("labels must be an object of strings");
                item.RuleFor(entry => entry.Version).MaximumLength(200);
                item.RuleFor(entry => entry.Checksum).MaximumLength(200);
            }).OverridePropertyName("items");
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit) : IRequestHandler<Command, Result>
    {
        private const string Upsert = """
            INSERT INTO access.discovered_secrets AS s
                (id, cluster_name, provider_type, secret_ref, provider_config, labels, version, checksum, created_at_source, updated_at_source,
                 status, first_seen_at, last_seen_at, reported_by)
            SELECT item.id, @ClusterName, @ProviderType, item.secret_ref, CAST(@ProviderConfig AS jsonb), CAST(item.labels AS jsonb), item.version,
                   item.checksum, item.created_at_source, item.updated_at_source, 'present', now(), now(), @AgentId
            FROM unnest(@Ids, @Refs, @Labels, @Versions, @Checksums, CAST(@CreatedAtSource AS timestamptz[]), CAST(@UpdatedAtSource AS timestamptz[]))
                AS item (id, secret_ref, labels, version, checksum, created_at_source, updated_at_source)
            ON CONFLICT (cluster_name, provider_type, secret_ref) DO UPDATE SET
                provider_config = EXCLUDED.provider_config,
                labels = EXCLUDED.labels,
                version = EXCLUDED.version,
                checksum = EXCLUDED.checksum,
                created_at_source = COALESCE(EXCLUDED.created_at_source, s.created_at_source),
                updated_at_source = COALESCE(EXCLUDED.updated_at_source, s.updated_at_source),
                status = 'present',
                last_seen_at = now(),
                reported_by = EXCLUDED.reported_by,
                updated_at = now()
            RETURNING s.id, s.secret_ref
            """;

        public async Task<Result> Handle(Command command, CancellationToken cancellationToken)
        {
            var agent = request.RequiredAgent;
            var cluster = command.ClusterName!.Trim();
            var provider = command.ProviderType!.Trim();

            // One row per ref (the last report wins): a statement may not upsert the same row twice.
            var items = (command.Items ?? [])
                .Select((item, index) => (Item: item, Index: index, Ref: item.SecretRef!.Trim()))
                .GroupBy(entry => entry.Ref, StringComparer.Ordinal)
                .Select(group => group.Last())
                .OrderBy(entry => entry.Index)
                .ToList();
            if (items.Count == 0)
            {
                audit.Record("discovery.upsert", "cluster", cluster, cluster, new { provider_type = provider, count = 0 });
                return new Result([], 0);
            }

            var rows = await db.QueryAsync<(Guid Id, string SecretRef)>(
                Upsert,
                new
                {
                    ClusterName = cluster,
                    ProviderType = provider,
                    ProviderConfig = AccessJson.TextOf(command.ProviderConfig),
                    AgentId = agent.Id,
                    Ids = items.Select(_ => Guid.CreateVersion7()).ToArray(),
                    Refs = items.Select(entry => entry.Ref).ToArray(),
                    Labels = items.Select(entry => AccessJson.TextOf(entry.Item.Labels)).ToArray(),
                    Versions = items.Select(entry => Blank(entry.Item.Version)).ToArray(),
                    Checksums = items.Select(entry => Blank(entry.Item.Checksum)).ToArray(),
                    CreatedAtSource = items.Select(entry => Timestamp(entry.Item.CreatedAtSource)).ToArray(),
                    UpdatedAtSource = items.Select(entry => Timestamp(entry.Item.UpdatedAtSource)).ToArray(),
                },
                cancellationToken);
            var byRef = rows.ToDictionary(row => row.SecretRef, row => row.Id, StringComparer.Ordinal);
            audit.Record("discovery.upsert", "cluster", cluster, cluster, new { provider_type = provider, count = rows.Count });
            return new Result([.. items.Select(entry => byRef[entry.Ref])], rows.Count);
        }

        // As ISO text: an array may mix reported and missing times (Npgsql refuses nulls beside UTC values).
        private static string? Timestamp(DateTimeOffset? value) => value?.ToUniversalTime().ToString("O", System.Globalization.CultureInfo.InvariantCulture);

        private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/agents/{id}/secrets/bulk", async (Guid id, Command command, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(command, cancellationToken)))
                .RequireAgent()
                .WithBodyLimit(8 * 1024 * 1024)
                .WithName(nameof(UpsertDiscoveredSecrets))
                .WithTags(AccessRoutes.AgentApi)
                .WithSummary("Bulk-upsert discovered secrets (metadata only)")
                .ProducesErrors(400, 401, 413);
    }
}
