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

namespace Capstan.Features.Access.Secrets;

/// <summary><c>GET /api/v1/secrets</c> (seeds 003 and 004, one resource): secret metadata — never values — with seed
/// 003's filters: <c>cluster_name</c>, <c>provider</c> (or <c>provider_type</c>), <c>ref_prefix</c>, <c>status</c>,
/// repeated <c>label=key:value</c> (all must match), <c>source</c>; seed 004's <c>instanceId</c> and <c>type</c> (vault
/// labels); <c>limit</c> (default 100, at most 1000) and <c>offset</c>. Ordered by cluster and ref.
/// <c>{items, total, limit, offset}</c>.</summary>
public static class ListSecrets
{
    public sealed record Query(
        string? ClusterName, string? Provider, string? RefPrefix, string? Status, string? Source, IReadOnlyList<string> Labels, int? Limit, int? Offset)
        : IQuery<Response>;

    public sealed record Response(
        [property: JsonPropertyName("items")] IReadOnlyList<SecretBody> Items,
        [property: JsonPropertyName("total")] long Total,
        [property: JsonPropertyName("limit")] int Limit,
        [property: JsonPropertyName("offset")] int Offset);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.Status).Must(status => status is null or "present" or "missing").WithMessage("status must be present or missing");
            RuleFor(query => query.Source).Must(source => source is null or "discovered" or "vault").WithMessage("source must be discovered or vault");
            RuleFor(query => query.RefPrefix).MaximumLength(1000).OverridePropertyName("ref_prefix");
            RuleFor(query => query.Limit).InclusiveBetween(1, 1000).When(query => query.Limit is not null);
            RuleFor(query => query.Offset).GreaterThanOrEqualTo(0).When(query => query.Offset is not null);
            RuleFor(query => query.Labels).Must(labels => labels.Count <= 20).WithMessage("at most 20 label filters")
                .Must(labels => labels.All(label => label.IndexOf(':', StringComparison.Ordinal) > 0)).WithMessage("label filters are key:value").OverridePropertyName("label");
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Response>
    {
        private const string Filter = $"""
            FROM ({SecretCatalog.Rows}) catalog
            WHERE (@ClusterName::text IS NULL OR cluster_name = @ClusterName)
              AND (@Provider::text IS NULL OR provider_type = @Provider)
              AND (@RefPrefix::text IS NULL OR secret_ref LIKE @RefPrefix ESCAPE '\')
              AND (@Status::text IS NULL OR status = @Status)
              AND (@Source::text IS NULL OR source = @Source)
              AND labels @> CAST(@Labels AS jsonb)
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            if (!request.RequiredCaller.Has(Permissions.SecretList))
            {
                throw new ForbiddenException("secret.list is needed across projects to list the secret catalog");
            }

            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var label in query.Labels)
            {
                var colon = label.IndexOf(':', StringComparison.Ordinal);
                labels[label[..colon]] = label[(colon + 1)..];
            }

            var limit = query.Limit ?? 100;
            var offset = query.Offset ?? 0;
            var parameters = new
            {
                ClusterName = Blank(query.ClusterName),
                Provider = Blank(query.Provider),
                RefPrefix = Blank(query.RefPrefix) is { } prefix ? EscapeLike(prefix) + "%" : null,
                query.Status,
                query.Source,
                Labels = JsonSerializer.Serialize(labels),
                Limit = limit,
                Offset = offset,
            };
            var total = await db.QuerySingleAsync<long>($"SELECT count(*) {Filter}", parameters, cancellationToken);
            var rows = await db.QueryAsync<SecretRow>(
                $"""
                SELECT {SecretCatalog.Columns}
                {Filter}
                ORDER BY cluster_name NULLS LAST, secret_ref, id
                LIMIT @Limit OFFSET @Offset
                """,
                parameters,
                cancellationToken);
            return new Response([.. rows.Select(row => row.ToBody())], total, limit, offset);
        }

        private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

        private static string EscapeLike(string value) =>
            value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/secrets", async (HttpContext context, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var query = context.Request.Query;
                    return TypedResults.Ok(await mediator.Send(
                        new Query(
                            query["cluster_name"].FirstOrDefault(),
                            query["provider"].FirstOrDefault() ?? query["provider_type"].FirstOrDefault(),
                            query["ref_prefix"].FirstOrDefault(),
                            query["status"].FirstOrDefault(),
                            query["source"].FirstOrDefault(),
                            [
                                .. query["label"].Where(label => !string.IsNullOrEmpty(label)).Select(label => label!),
                                .. Seed004Labels(query),
                            ],
                            Number(query["limit"].FirstOrDefault(), "limit"),
                            Number(query["offset"].FirstOrDefault(), "offset")),
                        cancellationToken));
                })
                .RequirePermission(Permissions.SecretList)
                .WithName(nameof(ListSecrets))
                .WithTags(AccessRoutes.Secrets)
                .WithSummary("List secrets (metadata only): discovered and vault")
                .Produces<Response>(200)
                .ProducesErrors(400, 401, 403);

        /// <summary>Seed 004's vault filters as label filters: <c>instanceId</c> (a UUID) and <c>type</c>.</summary>
        private static IEnumerable<string> Seed004Labels(IQueryCollection query)
        {
            var instance = query["instanceId"].FirstOrDefault() ?? query["instance_id"].FirstOrDefault();
            if (!string.IsNullOrEmpty(instance))
            {
                yield return Guid.TryParse(instance, out var id)
                    ? $"instance_id:{id}"
                    : throw BadRequestException.ForField("instanceId", "instanceId must be a UUID");
            }

            if (query["type"].FirstOrDefault() is { Length: > 0 } type)
            {
                yield return $"type:{type.Trim().ToUpperInvariant()}";
            }
        }

        private static int? Number(string? value, string field) =>
            value is null ? null : int.TryParse(value, out var number) ? number : throw BadRequestException.ForField(field, $"{field} must be an integer");
    }
}
