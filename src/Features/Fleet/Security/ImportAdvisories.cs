using System.Text.Json;
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

/// <summary><c>POST /api/v1/security/advisories/import</c> (ADMIN; beyond seed 004's inventory): loads OSV records into
/// the local vulnerability feed — the body is one record, an array of them, or <c>{"vulns": [...]}</c> (the shape of an
/// OSV query answer). A record replaces a stored one with the same id unless the stored one is newer (by
/// <c>modified</c>). → <c>{imported, updated, unchanged, advisories}</c>; a record that is not OSV is a 400 naming its
/// position (nothing is stored then). The same import runs from files with
/// <c>dotnet run --project src/Api -- import-osv &lt;file-or-directory&gt;...</c> (<see cref="ImportAdvisoriesVerb"/>).</summary>
public static class ImportAdvisories
{
    public sealed record Command(IReadOnlyList<JsonElement> Records) : ICommand<Response>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Records).NotEmpty().WithMessage("at least one OSV record is needed")
                .Must(records => records.Count <= 100_000).WithMessage("at most 100000 records per import").OverridePropertyName("records");
        }
    }

    public sealed record Response(int Imported, int Updated, int Unchanged, IReadOnlyList<string> Advisories);

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, TimeProvider clock) : IRequestHandler<Command, Response>
    {
        private const string Upsert = """
            INSERT INTO fleet.advisories AS a (id, aliases, summary, details, severity, cvss_score, reference_urls, affected, modified_at, withdrawn_at, imported_at)
            VALUES (@Id, @Aliases, @Summary, @Details, @Severity, @CvssScore, @References, CAST(@Affected AS jsonb), @ModifiedAt, @WithdrawnAt, @Now)
            ON CONFLICT (id) DO UPDATE
                SET aliases = EXCLUDED.aliases, summary = EXCLUDED.summary, details = EXCLUDED.details, severity = EXCLUDED.severity,
                    cvss_score = EXCLUDED.cvss_score, reference_urls = EXCLUDED.reference_urls, affected = EXCLUDED.affected,
                    modified_at = EXCLUDED.modified_at, withdrawn_at = EXCLUDED.withdrawn_at, imported_at = EXCLUDED.imported_at
                WHERE a.modified_at IS NULL OR EXCLUDED.modified_at IS NULL OR EXCLUDED.modified_at >= a.modified_at
            RETURNING (a.xmax = 0) AS created
            """;

        private const string Packages = """
            DELETE FROM fleet.advisory_packages WHERE advisory_id = @Id;
            INSERT INTO fleet.advisory_packages (advisory_id, ecosystem, package_name)
            SELECT @Id, p.ecosystem, p.name FROM unnest(@Ecosystems::text[], @Names::text[]) AS p(ecosystem, name)
            ON CONFLICT DO NOTHING;
            """;

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var advisories = new List<OsvFeed.Advisory>();
            for (var index = 0; index < command.Records.Count; index++)
            {
                var (advisory, error) = OsvFeed.Parse(command.Records[index]);
                advisories.Add(advisory ?? throw BadRequestException.ForField($"records[{index}]", error!));
            }

            var now = clock.GetUtcNow().UtcDateTime;
            int imported = 0, updated = 0, unchanged = 0;
            foreach (var advisory in advisories.DistinctBy(advisory => advisory.Id))
            {
                var created = await db.ExecuteScalarAsync<bool?>(
                    Upsert,
                    new
                    {
                        advisory.Id,
                        advisory.Aliases,
                        advisory.Summary,
                        advisory.Details,
                        advisory.Severity,
                        advisory.CvssScore,
                        advisory.References,
                        Affected = advisory.AffectedJson,
                        advisory.ModifiedAt,
                        advisory.WithdrawnAt,
                        Now = now,
                    },
                    cancellationToken);
                if (created is null)
                {
                    unchanged++;
                    continue;
                }

                (created.Value ? ref imported : ref updated)++;
                await db.ExecuteAsync(
                    Packages,
                    new { advisory.Id, Ecosystems = advisory.Packages.Select(package => package.Ecosystem).ToArray(), Names = advisory.Packages.Select(package => package.Name).ToArray() },
                    cancellationToken);
            }

            audit.Record(new AuditEntry("security.advisories.import", "advisory_feed", Metadata: new { imported, updated, unchanged })
            {
                // The import-osv verb runs without a signed-in user.
                ActorType = request.Caller is null ? "system" : null,
                ActorName = request.Caller is null ? "import-osv" : null,
            });
            return new Response(imported, updated, unchanged, [.. advisories.Select(advisory => advisory.Id).Distinct()]);
        }
    }

    /// <summary>The records in an import body or file: one OSV object, an array, or <c>{"vulns": [...]}</c>.</summary>
    public static IReadOnlyList<JsonElement> Records(JsonElement body) => body.ValueKind switch
    {
        JsonValueKind.Array => [.. body.EnumerateArray()],
        JsonValueKind.Object when body.TryGetProperty("vulns", out var vulns) && vulns.ValueKind == JsonValueKind.Array => [.. vulns.EnumerateArray()],
        JsonValueKind.Object => [body],
        _ => throw new BadRequestException("The body must be an OSV record, an array of them, or {\"vulns\": [...]}"),
    };

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/security/advisories/import", async (JsonElement body, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(Records(body)), cancellationToken)))
                .RequirePermission(Permissions.SecurityFeedImport)
                .WithName(nameof(ImportAdvisories))
                .WithTags(FleetRoutes.Security)
                .WithSummary("Import OSV records into the local vulnerability feed" + FleetRoutes.BeyondInventory)
                .WithBodyLimit(64 * 1024 * 1024)
                .ProducesErrors(400, 401, 403, 413);
    }
}
