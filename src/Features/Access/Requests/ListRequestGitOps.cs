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

namespace Capstan.Features.Access.Requests;

/// <summary><c>GET /api/v1/requests/{id}/gitops?user_id=</c> (seed 003; GitOps feature, else 404): how the ArgoCD
/// applications mapped to an executed request rolled out. Visible to whoever may see the request; <c>user_id</c> may only
/// name the caller.</summary>
public static class ListRequestGitOps
{
    public sealed record Query(Guid Id, string? UserId) : IQuery<IReadOnlyList<Observation>>;

    public sealed record Observation(
        [property: JsonPropertyName("id")] Guid Id,
        [property: JsonPropertyName("request_id")] Guid RequestId,
        [property: JsonPropertyName("argocd_endpoint_id")] Guid ArgocdEndpointId,
        [property: JsonPropertyName("application_name")] string ApplicationName,
        [property: JsonPropertyName("application_namespace")] string? ApplicationNamespace,
        [property: JsonPropertyName("polling_state")] string PollingState,
        [property: JsonPropertyName("observed_state")] JsonElement ObservedState,
        [property: JsonPropertyName("last_polled_at")] DateTime? LastPolledAt,
        [property: JsonPropertyName("polls_count")] long PollsCount,
        [property: JsonPropertyName("last_error")] string? LastError,
        [property: JsonPropertyName("timeout_at")] DateTime TimeoutAt,
        [property: JsonPropertyName("terminal_at")] DateTime? TerminalAt,
        [property: JsonPropertyName("created_at")] DateTime CreatedAt);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.UserId).MaximumLength(100).OverridePropertyName("user_id");
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, IReadOnlyList<Observation>>
    {
        private const string Select = """
            SELECT id, request_id, argocd_endpoint_id, application_name, application_namespace, polling_state, observed_state::text AS observed_state,
                   last_polled_at, polls_count, last_error, timeout_at, terminal_at, created_at
            FROM access.gitops_observations WHERE request_id = @Id
            ORDER BY created_at, id
            """;

        public async Task<IReadOnlyList<Observation>> Handle(Query query, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            request.CallerIdMatching(query.UserId, "user_id");
            var row = await db.QuerySingleOrDefaultAsync<RequestRow>(RequestRecords.ById, new { query.Id }, cancellationToken);
            if (row is null || !RequestRecords.CanSee(caller, row))
            {
                throw new NotFoundException("request not found");
            }

            return [.. (await db.QueryAsync<Row>(Select, new { query.Id }, cancellationToken)).Select(observation => new Observation(
                observation.Id, observation.RequestId, observation.ArgocdEndpointId, observation.ApplicationName, observation.ApplicationNamespace,
                observation.PollingState, AccessJson.Parse(observation.ObservedState), observation.LastPolledAt, observation.PollsCount, observation.LastError,
                observation.TimeoutAt, observation.TerminalAt, observation.CreatedAt))];
        }

        private sealed class Row
        {
            public Guid Id { get; init; }

            public Guid RequestId { get; init; }

            public Guid ArgocdEndpointId { get; init; }

            public string ApplicationName { get; init; } = string.Empty;

            public string? ApplicationNamespace { get; init; }

            public string PollingState { get; init; } = string.Empty;

            public string ObservedState { get; init; } = "{}";

            public DateTime? LastPolledAt { get; init; }

            public long PollsCount { get; init; }

            public string? LastError { get; init; }

            public DateTime TimeoutAt { get; init; }

            public DateTime? TerminalAt { get; init; }

            public DateTime CreatedAt { get; init; }
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/requests/{id}/gitops", async (
                        Guid id, [Microsoft.AspNetCore.Mvc.FromQuery(Name = "user_id")] string? userId, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id, userId), cancellationToken)))
                .RequireFeature(AccessRoutes.GitOpsFeature)
                .RequirePermission(Permissions.AccessRead)
                .WithName(nameof(ListRequestGitOps))
                .WithTags(AccessRoutes.Requests, AccessRoutes.GitOps)
                .WithSummary("List the GitOps observations of a request")
                .ProducesErrors(400, 401, 403, 404);
    }
}
