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

namespace Capstan.Features.Fleet.Security;

/// <summary><c>GET /api/v1/security/compliance</c> (seed 004): five checks over one instance or the visible fleet —
/// no open critical vulnerabilities, no open high ones, every secret rotated in time, no weak active SSH keys (DSA/DSS,
/// RSA under 2048 bits), no expired SSH keys — with the share passed (<c>compliancePercent</c>, rounded), the security
/// score and when the report was made.</summary>
public static class GetComplianceReport
{
    public sealed record Query(Guid? InstanceId) : IQuery<Response>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.InstanceId).NotEqual(Guid.Empty);
    }

    public sealed record Response(
        Guid? InstanceId, long CompliancePercent, int PassedChecks, int TotalChecks, IReadOnlyList<Check> Checks, SecurityScore SecurityScore, DateTime GeneratedAt);

    public sealed record Check(string Id, string Name, bool Passed, string Details);

    internal sealed class Handler(DbSession db, RequestContext request, TimeProvider clock) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var now = clock.GetUtcNow().UtcDateTime;
            var p = await SecurityPosture.ReadAsync(db, request.RequiredCaller, query.InstanceId, now, cancellationToken);
            Check[] checks =
            [
                new("no-critical-vulns", "No open critical vulnerabilities", p.Critical == 0, $"{p.Critical} open critical vulnerabilities"),
                new("no-high-vulns", "No open high vulnerabilities", p.High == 0, $"{p.High} open high vulnerabilities"),
                new("secrets-rotated", "Secrets rotated on schedule", p.OverdueSecrets == 0, $"{p.OverdueSecrets} of {p.TotalSecrets} secrets overdue for rotation"),
                new("no-weak-ssh", "No weak SSH keys", p.WeakKeys == 0, $"{p.WeakKeys} weak active SSH keys (DSA/DSS or RSA under 2048 bits)"),
                new("ssh-keys-current", "No expired SSH keys", p.ExpiredKeys == 0, $"{p.ExpiredKeys} expired SSH keys"),
            ];
            var passed = checks.Count(check => check.Passed);
            return new Response(query.InstanceId, (long)Math.Round(passed * 100.0 / checks.Length, MidpointRounding.AwayFromZero), passed, checks.Length, checks, p.Score, now);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/security/compliance", async (Guid? instanceId, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(instanceId), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetComplianceReport))
                .WithTags(FleetRoutes.Security)
                .WithSummary("Compliance report")
                .ProducesErrors(400, 401, 403, 404);
    }
}
