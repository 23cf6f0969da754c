using System.Text.Json;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Background;
using Capstan.Infrastructure.Crypto;
using Capstan.Infrastructure.Data;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Capstan.Features.Access.GitOps;

/// <summary>
/// Follows executed requests into ArgoCD (GitOps feature on), every 15 seconds once per fleet: up to 20 open
/// observations at a time (<c>FOR UPDATE SKIP LOCKED</c>) are polled; an application Healthy and Synced is
/// <c>applied</c>, Degraded after a failed operation <c>failed</c>, still open at its timeout <c>applied_unverified</c>.
/// Each end state is audited with the request's id as correlation.
/// </summary>
public sealed class GitOpsObservationPoller(IServiceProvider services, ILogger<GitOpsObservationPoller> logger) : RecurringJob(services, logger)
{
    private const string Open = """
        SELECT o.id, o.request_id, o.application_name, o.application_namespace, o.timeout_at <= now() AS timed_out,
               e.id AS endpoint_id, e.base_url, e.token_envelope, e.tls_ca_pem, e.tls_server_name, e.enabled AND e.deleted_at IS NULL AS endpoint_usable
        FROM access.gitops_observations o JOIN access.argocd_endpoints e ON e.id = o.argocd_endpoint_id
        WHERE o.polling_state IN ('queued', 'active')
        ORDER BY o.last_polled_at NULLS FIRST, o.created_at
        LIMIT 20
        FOR UPDATE OF o SKIP LOCKED
        """;

    private const string Record = """
        UPDATE access.gitops_observations
        SET polling_state = @State, observed_state = COALESCE(CAST(@Observed AS jsonb), observed_state), last_polled_at = now(),
            polls_count = polls_count + 1, last_error = @Error,
            terminal_at = CASE WHEN @State IN ('applied', 'applied_unverified', 'failed') THEN now() END, updated_at = now()
        WHERE id = @Id
        """;

    public override string Name => "access-gitops-observer";

    public override TimeSpan Interval => TimeSpan.FromSeconds(15);

    public override async Task RunOnceAsync(IServiceProvider scope, CancellationToken cancellationToken)
    {
        if (!AccessRoutes.GitOpsFeature.IsEnabled(scope.GetRequiredService<IConfiguration>()))
        {
            return;
        }

        var db = scope.GetRequiredService<DbSession>();
        var cipher = scope.GetRequiredService<EnvelopeCipher>();
        await db.BeginAsync(cancellationToken);
        foreach (var observation in await db.QueryAsync<Row>(Open, null, cancellationToken))
        {
            string state;
            string? observed = null;
            string? error = null;
            if (observation.TimedOut)
            {
                state = "applied_unverified";
            }
            else if (!observation.EndpointUsable)
            {
                (state, error) = ("active", "argocd endpoint is disabled");
            }
            else
            {
                try
                {
                    var token = cipher.DecryptString(observation.TokenEnvelope, $"access.argocd_endpoints:{observation.EndpointId}");
                    var app = await ArgoCdClient.GetApplicationAsync(
                        new ArgoCdTarget(observation.BaseUrl, token, observation.TlsCaPem, observation.TlsServerName), observation.ApplicationName, observation.ApplicationNamespace, cancellationToken);
                    state = app.PollingState;
                    observed = JsonSerializer.Serialize(app);
                }
                catch (ArgoCdException exception)
                {
                    (state, error) = ("active", exception.Message);
                }
            }

            await db.ExecuteAsync(Record, new { observation.Id, State = state, Observed = observed, Error = error }, cancellationToken);
            if (state is not "active")
            {
                await AuditAsync(scope, observation, state, error, cancellationToken);
            }
        }

        await db.CommitAsync(cancellationToken);
    }

    private static async Task AuditAsync(IServiceProvider parent, Row observation, string state, string? error, CancellationToken cancellationToken)
    {
        await using var scope = parent.GetRequiredService<IServiceScopeFactory>().CreateAsyncScope();
        var audit = scope.ServiceProvider.GetRequiredService<AuditTrail>();
        audit.CorrelationId = observation.RequestId;
        await audit.WriteNowAsync(
            new AuditEntry($"request.gitops_observation_{state}", "request", observation.RequestId.ToString(), null, new
            {
                observation_id = observation.Id,
                application = observation.ApplicationName,
                error,
            })
            {
                ActorType = "system",
                ActorName = "system:gitops-observer",
                Result = state == "failed" ? AuditResult.Failure : AuditResult.Success,
            },
            cancellationToken);
    }

    private sealed class Row
    {
        public Guid Id { get; init; }

        public Guid RequestId { get; init; }

        public string ApplicationName { get; init; } = string.Empty;

        public string? ApplicationNamespace { get; init; }

        public bool TimedOut { get; init; }

        public Guid EndpointId { get; init; }

        public string BaseUrl { get; init; } = string.Empty;

        public byte[] TokenEnvelope { get; init; } = [];

        public string? TlsCaPem { get; init; }

        public string? TlsServerName { get; init; }

        public bool EndpointUsable { get; init; }
    }
}
