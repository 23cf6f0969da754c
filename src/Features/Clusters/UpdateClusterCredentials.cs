using System.Text.Json.Serialization;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Clusters;
using Capstan.Infrastructure.Crypto;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Kubernetes;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Clusters;

/// <summary><c>PUT /v1/api/clusters/{name}/credentials</c> (seed 002): the owner replaces the credentials
/// (<c>{credentials: {...}}</c>, same fields as on create, for the cluster's auth type). They are tested first and
/// stored, encrypted, only when the cluster accepts them (400 refused, 503 unreachable); the pooled client is replaced.
/// <c>{message: "Credentials updated successfully", cluster}</c>.</summary>
public static class UpdateClusterCredentials
{
    public sealed record Command : ICommand<Response>
    {
        [JsonIgnore]
        public string Name { get; init; } = string.Empty;

        public CredentialsInput? Credentials { get; init; }
    }

    public sealed record Response(string Message, ClusterResponse Cluster);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Name).NotEmpty().MaximumLength(100);
            RuleFor(command => command.Credentials).NotNull();
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, ClusterDirectory directory, EnvelopeCipher cipher, ClusterProbe probe, KubernetesClientPool pool)
        : IRequestHandler<Command, Response>
    {
        private const string Update = """
            UPDATE clusters.clusters
            SET credentials = @Credentials, credentials_version = credentials_version + 1, context = COALESCE(@Context, context),
                status = 'connected', version = COALESCE(@Version, version), last_check = now(), last_error = NULL, updated_at = now()
            WHERE id = @Id;
            INSERT INTO clusters.connection_logs (id, cluster_id, user_id, action, success, details)
            VALUES (@LogId, @Id, @UserId, 'credentials_updated', true, '{}');
            """;

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var cluster = await directory.GetVisibleAsync(command.Name, caller, cancellationToken);
            if (!ClusterDirectory.CanManage(cluster, caller))
            {
                throw new ForbiddenException("Only the cluster's owner can change its credentials");
            }

            var credentials = command.Credentials!.ToCredentials();
            ClusterConnection connection;
            try
            {
                connection = credentials.ToConnection(cluster.AuthType, cluster.Server, cluster.Insecure, cluster.Namespace);
                using var validated = new KubernetesClient(connection, cluster.Name, pool.Options);
            }
            catch (FormatException exception)
            {
                throw BadRequestException.ForField("credentials", exception.Message);
            }

            var result = await probe.ProbeAsync(() => connection, cluster.Name, cancellationToken);
            if (!result.Connected)
            {
                throw result.Unreachable
                    ? new ServiceUnavailableException($"Cluster '{cluster.Name}' is unreachable with the new credentials; nothing was changed: {result.Error}")
                    : BadRequestException.ForField("credentials", $"The cluster did not accept the new credentials; nothing was changed: {result.Error}");
            }

            await db.ExecuteAsync(
                Update,
                new { cluster.Id, Credentials = credentials.Seal(cipher, cluster.Id), Context = connection.ContextName, result.Version, LogId = Guid.CreateVersion7(), caller.UserId },
                cancellationToken);
            directory.Forget(cluster.Id);
            audit.Record("cluster.credentials.update", "cluster", cluster.Id.ToString(), cluster.Name, new { auth_type = cluster.AuthType });
            return new Response("Credentials updated successfully", await ClusterShapes.LoadAsync(db, cluster.Id, caller, cancellationToken));
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPut("/v1/api/clusters/{name}/credentials", async (string name, Command command, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(command with { Name = name }, cancellationToken)))
                .RequirePermission(Permissions.ClusterEdit)
                .WithName(nameof(UpdateClusterCredentials))
                .WithTags(ClusterRoutes.Registry)
                .WithSummary("Update cluster credentials (seed 002)")
                .WithBodyLimit(10 * 1024 * 1024)
                .ProducesErrors(400, 401, 403, 404, 503);
    }
}
