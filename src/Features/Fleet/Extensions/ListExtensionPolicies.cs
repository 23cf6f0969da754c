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

namespace Capstan.Features.Fleet.Extensions;

/// <summary><c>GET /api/v1/extensions/policies</c> (seed 004): every policy with its extension, global ones first, then
/// team, then instance ones. <c>extensionId</c> narrows to one extension; <c>instanceId</c> to one instance's policies,
/// where an empty <c>instanceId=</c> means the global ones (the upstream's spelling); <c>teamId</c> to one team's.</summary>
public static class ListExtensionPolicies
{
    public sealed record Query(Guid? ExtensionId, Guid? InstanceId, bool GlobalOnly, Guid? TeamId) : IQuery<Response>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.ExtensionId).NotEqual(Guid.Empty).OverridePropertyName("extensionId");
            RuleFor(query => query.InstanceId).NotEqual(Guid.Empty).OverridePropertyName("instanceId");
        }
    }

    public sealed record Response(
        [property: JsonPropertyName("policies")] IReadOnlyList<PolicyView> Policies, [property: JsonPropertyName("data")] IReadOnlyList<PolicyView> Data,
        [property: JsonPropertyName("total")] int Total);

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, Response>
    {
        private const string Select = $"""
            SELECT {PolicyRow.Columns}
            FROM fleet.extension_policies p JOIN fleet.extensions e ON e.id = p.extension_id
            WHERE (@ExtensionId::uuid IS NULL OR p.extension_id = @ExtensionId)
              AND (@InstanceId::uuid IS NULL OR p.instance_id = @InstanceId)
              AND (@TeamId::uuid IS NULL OR p.team_id = @TeamId)
              AND (NOT @GlobalOnly OR (p.instance_id IS NULL AND p.team_id IS NULL))
            ORDER BY (p.instance_id IS NOT NULL), (p.team_id IS NOT NULL), e.name, p.created_at
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var policies = (await db.QueryAsync<PolicyRow>(Select, query, cancellationToken)).Select(row => row.ToView()).ToList();
            return new Response(policies, policies, policies.Count);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/extensions/policies", async (HttpContext context, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var query = context.Request.Query;
                    var instance = Value(query, "instanceId", "instance_id");
                    return TypedResults.Ok(await mediator.Send(
                        new Query(Id(Value(query, "extensionId", "extension_id"), "extensionId"), Id(instance, "instanceId"), instance is { Length: 0 }, Id(Value(query, "teamId", "team_id"), "teamId")),
                        cancellationToken));
                })
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(ListExtensionPolicies))
                .WithTags(FleetRoutes.ExtensionPolicies)
                .WithSummary("List extension policies")
                .ProducesErrors(400, 401, 403);

        private static string? Value(IQueryCollection query, string camel, string snake) =>
            query.TryGetValue(camel, out var value) || query.TryGetValue(snake, out value) ? value.ToString().Trim() : null;

        private static Guid? Id(string? value, string field) =>
            string.IsNullOrEmpty(value) ? null : Guid.TryParse(value, out var id) ? id : throw BadRequestException.ForField(field, $"{field} must be a UUID");
    }
}
