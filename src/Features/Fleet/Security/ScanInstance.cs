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

/// <summary><c>POST /api/v1/security/scan/{instanceId}</c> (seed 004): BOM scan and CVE detection for one instance.
/// The body <c>{packages:[{name, version, ecosystem, license?}]}</c> is the instance's report of what it has installed:
/// it replaces the stored BOM (no body: the stored BOM is rescanned). Every BOM entry is then matched against the local
/// vulnerability feed (<see cref="OsvFeed"/>; nothing leaves the machine). New findings are stored OPEN; known ones keep
/// their triage status (a finding is never reopened); OPEN or ACKNOWLEDGED findings whose package version is no longer
/// in the BOM become FIXED. → <c>{instanceId, instanceName, scannedAt, packagesScanned, vulnerabilitiesDetected,
/// newVulnerabilitiesSaved, resolvedVulnerabilities}</c>; 404 for an unknown or unseen instance.</summary>
public static class ScanInstance
{
    public sealed record Body(IReadOnlyList<ReportedPackage>? Packages);

    public sealed record ReportedPackage(string? Name, string? Version, string? Ecosystem, string? License);

    public sealed record Command(Guid InstanceId, IReadOnlyList<ReportedPackage>? Packages) : ICommand<Response>;

    public sealed record Response(
        Guid InstanceId, string InstanceName, DateTime ScannedAt, int PackagesScanned, int VulnerabilitiesDetected, int NewVulnerabilitiesSaved, int ResolvedVulnerabilities);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Packages).Must(packages => packages is null || packages.Count <= 10000)
                .OverridePropertyName("packages").WithMessage("packages: at most 10000 entries");
            RuleForEach(command => command.Packages).ChildRules(package =>
            {
                package.RuleFor(item => item.Name).NotEmpty().MaximumLength(256);
                package.RuleFor(item => item.Version).NotEmpty().MaximumLength(128);
                package.RuleFor(item => item.Ecosystem).NotEmpty().MaximumLength(64);
                package.RuleFor(item => item.License).MaximumLength(128);
            }).OverridePropertyName("packages");
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, TimeProvider clock) : IRequestHandler<Command, Response>
    {
        private const string Instance = $"SELECT i.name FROM fleet.instances i WHERE i.id = @InstanceId AND {FleetVisibility.Predicate} FOR UPDATE OF i";

        private const string ReplaceBom = """
            DELETE FROM fleet.bom_entries WHERE instance_id = @InstanceId;
            INSERT INTO fleet.bom_entries (id, instance_id, package_name, package_version, ecosystem, license, scanned_at)
            SELECT gen_random_uuid(), @InstanceId, p.name, p.version, p.ecosystem, p.license, @Now
            FROM unnest(@Names::text[], @Versions::text[], @Ecosystems::text[], @Licenses::text[]) AS p(name, version, ecosystem, license)
            ON CONFLICT (instance_id, package_name, package_version, ecosystem) DO NOTHING;
            """;

        private const string TouchBom = "UPDATE fleet.bom_entries SET scanned_at = @Now WHERE instance_id = @InstanceId";

        private const string Bom = "SELECT package_name AS name, package_version AS version, ecosystem FROM fleet.bom_entries WHERE instance_id = @InstanceId";

        private const string Candidates = """
            SELECT ap.ecosystem, ap.package_name, a.id, a.aliases, a.summary, a.details, a.severity, a.cvss_score, a.reference_urls, a.affected::text AS affected
            FROM fleet.advisory_packages ap JOIN fleet.advisories a ON a.id = ap.advisory_id
            WHERE a.withdrawn_at IS NULL
              AND (ap.ecosystem, ap.package_name) IN (SELECT * FROM unnest(@Ecosystems::text[], @Names::text[]))
            """;

        private const string SaveFinding = """
            INSERT INTO fleet.vulnerabilities AS v (id, instance_id, cve_id, osv_id, package_name, package_version, ecosystem, severity, cvss_score, title,
                                                   description, fix_version, reference_urls, status, detected_at, updated_at)
            VALUES (@Id, @InstanceId, @CveId, @OsvId, @PackageName, @PackageVersion, @Ecosystem, @Severity, @CvssScore, @Title,
                    @Description, @FixVersion, @References, 'OPEN', @Now, @Now)
            ON CONFLICT (instance_id, osv_id, package_name, package_version, ecosystem) DO UPDATE
                SET cve_id = EXCLUDED.cve_id, severity = EXCLUDED.severity, cvss_score = EXCLUDED.cvss_score, title = EXCLUDED.title,
                    description = EXCLUDED.description, fix_version = EXCLUDED.fix_version, reference_urls = EXCLUDED.reference_urls, updated_at = EXCLUDED.updated_at
            RETURNING (v.xmax = 0) AS created
            """;

        private const string ResolveGone = """
            UPDATE fleet.vulnerabilities v SET status = 'FIXED', fixed_at = @Now, updated_at = @Now
            WHERE v.instance_id = @InstanceId AND v.status IN ('OPEN', 'ACKNOWLEDGED')
              AND NOT EXISTS (SELECT 1 FROM fleet.bom_entries b WHERE b.instance_id = v.instance_id AND b.package_name = v.package_name
                              AND b.package_version = v.package_version AND b.ecosystem = v.ecosystem)
            """;

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            var name = await db.ExecuteScalarAsync<string>(Instance, new { command.InstanceId, scope.SeesAllTeams, scope.TeamIds }, cancellationToken)
                ?? throw new NotFoundException($"Instance '{command.InstanceId}' not found");
            var now = clock.GetUtcNow().UtcDateTime;
            if (command.Packages is { } reported)
            {
                await db.ExecuteAsync(
                    ReplaceBom,
                    new
                    {
                        command.InstanceId,
                        Now = now,
                        Names = reported.Select(package => package.Name!.Trim()).ToArray(),
                        Versions = reported.Select(package => package.Version!.Trim()).ToArray(),
                        Ecosystems = reported.Select(package => OsvFeed.NormaliseEcosystem(package.Ecosystem!)).ToArray(),
                        Licenses = reported.Select(package => package.License).ToArray(),
                    },
                    cancellationToken);
            }
            else
            {
                await db.ExecuteAsync(TouchBom, new { command.InstanceId, Now = now }, cancellationToken);
            }

            var bom = await db.QueryAsync<BomRow>(Bom, new { command.InstanceId }, cancellationToken);
            var candidates = (await db.QueryAsync<CandidateRow>(
                    Candidates,
                    new { Ecosystems = bom.Select(entry => entry.Ecosystem).ToArray(), Names = bom.Select(entry => entry.Name.ToLowerInvariant()).ToArray() },
                    cancellationToken))
                .ToLookup(candidate => (candidate.Ecosystem, candidate.PackageName));
            int detected = 0, saved = 0;
            foreach (var entry in bom)
            {
                foreach (var advisory in candidates[(entry.Ecosystem, entry.Name.ToLowerInvariant())])
                {
                    var (affected, fixVersion) = OsvFeed.Match(advisory.Affected, entry.Ecosystem, entry.Name, entry.Version);
                    if (!affected)
                    {
                        continue;
                    }

                    detected++;
                    var cveId = advisory.Id.StartsWith("CVE-", StringComparison.OrdinalIgnoreCase)
                        ? advisory.Id
                        : advisory.Aliases.FirstOrDefault(alias => alias.StartsWith("CVE-", StringComparison.OrdinalIgnoreCase)) ?? advisory.Id;
                    var created = await db.ExecuteScalarAsync<bool>(
                        SaveFinding,
                        new
                        {
                            Id = Guid.CreateVersion7(),
                            command.InstanceId,
                            CveId = cveId,
                            OsvId = advisory.Id,
                            PackageName = entry.Name,
                            PackageVersion = entry.Version,
                            entry.Ecosystem,
                            advisory.Severity,
                            advisory.CvssScore,
                            Title = string.IsNullOrWhiteSpace(advisory.Summary) ? advisory.Id : advisory.Summary,
                            Description = advisory.Details,
                            FixVersion = fixVersion,
                            References = advisory.ReferenceUrls,
                            Now = now,
                        },
                        cancellationToken);
                    saved += created ? 1 : 0;
                }
            }

            var resolved = await db.ExecuteAsync(ResolveGone, new { command.InstanceId, Now = now }, cancellationToken);
            audit.Record("security.scan", "instance", command.InstanceId.ToString(), name, new
            {
                packages = bom.Count,
                detected,
                saved,
                resolved,
                reported = command.Packages is not null,
            });
            return new Response(command.InstanceId, name, now, bom.Count, detected, saved, resolved);
        }

        private sealed record BomRow(string Name, string Version, string Ecosystem);

        private sealed record CandidateRow
        {
            public string Ecosystem { get; init; } = string.Empty;

            public string PackageName { get; init; } = string.Empty;

            public string Id { get; init; } = string.Empty;

            public string[] Aliases { get; init; } = [];

            public string Summary { get; init; } = string.Empty;

            public string Details { get; init; } = string.Empty;

            public string Severity { get; init; } = string.Empty;

            public double? CvssScore { get; init; }

            public string[] ReferenceUrls { get; init; } = [];

            public string Affected { get; init; } = string.Empty;
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/security/scan/{instanceId}", async (Guid instanceId, Body? body, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(instanceId, body?.Packages), cancellationToken)))
                .RequirePermission(Permissions.SecurityManage)
                .WithName(nameof(ScanInstance))
                .WithTags(FleetRoutes.Security)
                .WithSummary("BOM scan and CVE detection against the local vulnerability feed")
                .WithBodyLimit(16 * 1024 * 1024)
                .ProducesErrors(400, 401, 403, 404);
    }
}
