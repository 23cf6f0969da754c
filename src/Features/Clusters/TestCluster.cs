using System.Text.Json;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Clusters;
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

namespace Capstan.Features.Clusters;

/// <summary>
/// <c>POST /v1/api/clusters/{name}/test</c> (seed 002): tests the connection now (credentials, reachability, version,
/// authentication, authorization, nodes), stores the outcome as the cluster's status and logs a
/// <c>connection_test</c>. 200 with KubeOrch's <c>{message, cluster}</c>, the reference doc's
/// <c>{status: "healthy", version, nodes}</c> and the checks; a failed test is a 503 naming why (after the outcome is
/// recorded).
/// </summary>
public static class TestCluster
{
    public sealed record Command(string Name) : ICommand<Response>;

    public sealed record Response(
        string Message,
        string Cluster,
        string Status,
        string ClusterStatus,
        string? Version,
        int? Nodes,
        bool Connected,
        string? Error,
        IReadOnlyList<ClusterCheck> Checks,
        DateTimeOffset Timestamp);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Name).NotEmpty().MaximumLength(100);
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, ClusterDirectory directory, ClusterProbe probe) : IRequestHandler<Command, Response>
    {
        private const string Update = """
            UPDATE clusters.clusters
            SET status = @Status, last_check = @Now, last_error = @Error, version = COALESCE(@Version, version)
            WHERE id = @Id
            """;

        private const string Log = """
            INSERT INTO clusters.connection_logs (id, cluster_id, user_id, action, success, error, details, created_at)
            VALUES (@LogId, @Id, @UserId, 'connection_test', @Connected, @Error, CAST(@Details AS jsonb), @Now)
            """;

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var cluster = await directory.GetVisibleAsync(command.Name, caller, cancellationToken);
            var result = await probe.ProbeAsync(() => directory.ConnectionOf(cluster), cluster.Name, cancellationToken);
            var parameters = new
            {
                cluster.Id,
                LogId = Guid.CreateVersion7(),
                caller.UserId,
                result.Status,
                result.Connected,
                result.Error,
                result.Version,
                Now = result.CheckedAt.UtcDateTime,
                Details = JsonSerializer.Serialize(new { result.Status, result.Version, nodes = result.NodeCount }),
            };
            await db.ExecuteAsync(Update, parameters, cancellationToken);
            await db.ExecuteAsync(Log, parameters, cancellationToken);
            audit.Record(new AuditEntry("cluster.test", "cluster", cluster.Id.ToString(), cluster.Name, new { status = result.Status }, result.Connected ? AuditResult.Success : AuditResult.Failure));
            return new Response(
                result.Connected ? "Connection test successful" : "Connection test failed",
                cluster.Name,
                result.Connected ? "healthy" : "failed",
                result.Status,
                result.Version,
                result.NodeCount,
                result.Connected,
                result.Error,
                result.Checks,
                result.CheckedAt);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/v1/api/clusters/{name}/test", async (string name, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var response = await mediator.Send(new Command(name), cancellationToken);
                    return response.Connected
                        ? TypedResults.Ok(response)
                        : throw new ServiceUnavailableException($"Connection test of cluster '{response.Cluster}' failed: {response.Error}");
                })
                .RequirePermission(Permissions.ClusterEdit)
                .WithName(nameof(TestCluster))
                .WithTags(ClusterRoutes.Registry)
                .WithSummary("Test cluster connection (seed 002)")
                .ProducesErrors(400, 401, 403, 404, 503);
    }
}
