using System.Text.Json;
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

/// <summary>
/// <c>PUT /v1/api/clusters/{name}</c> (seed 002): the owner changes <c>displayName</c>, <c>description</c>,
/// <c>labels</c>, <c>singleNode</c> and the connection (<c>server</c>, <c>authType</c>, <c>credentials</c>,
/// <c>insecure</c>); empty strings are ignored. A new connection is tested first and only stored when the cluster
/// accepts it (400 when it refuses the credentials, 503 when unreachable). Turning <c>singleNode</c> on removes the
/// control-plane taint from control-plane nodes; off puts it back. <c>{message, cluster}</c>.
/// </summary>
public static class UpdateCluster
{
    public sealed record Command : ICommand<Response>
    {
        [JsonIgnore]
        public string Name { get; init; } = string.Empty;

        public string? DisplayName { get; init; }

        public string? Description { get; init; }

        public string? Server { get; init; }

        public string? AuthType { get; init; }

        [JsonPropertyName("auth_type")]
        public string? AuthTypeSnake { get; init; }

        public CredentialsInput? Credentials { get; init; }

        public bool? SingleNode { get; init; }

        [JsonPropertyName("single_node")]
        public bool? SingleNodeSnake { get; init; }

        public bool? Insecure { get; init; }

        public Dictionary<string, string>? Labels { get; init; }
    }

    public sealed record Response(string Message, ClusterResponse Cluster);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Name).NotEmpty().MaximumLength(100);
            RuleFor(command => command.AuthType ?? command.AuthTypeSnake).Must(type => ClusterAuthTypes.Normalise(type) is not null)
                .When(command => !string.IsNullOrEmpty(command.AuthType ?? command.AuthTypeSnake))
                .WithMessage($"authType must be one of: {string.Join(", ", ClusterAuthTypes.All)}").OverridePropertyName("authType");
            RuleFor(command => command.Server).Must(server => Uri.TryCreate(server, UriKind.Absolute, out var uri) && uri.Scheme is "https" or "http")
                .When(command => !string.IsNullOrEmpty(command.Server)).WithMessage("server must be an http(s) URL");
            RuleFor(command => command.DisplayName).MaximumLength(200);
            RuleFor(command => command.Description).MaximumLength(1000);
            RuleFor(command => command.Labels).Must(labels => labels is null || labels.Count <= 50).WithMessage("at most 50 labels");
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, ClusterDirectory directory, EnvelopeCipher cipher, ClusterProbe probe, KubernetesClientPool pool)
        : IRequestHandler<Command, Response>
    {
        private const string Load = "SELECT display_name, description, single_node, labels::text AS labels FROM clusters.clusters WHERE id = @Id FOR UPDATE";

        private const string Update = """
            UPDATE clusters.clusters
            SET display_name = @DisplayName, description = @Description, single_node = @SingleNode, labels = CAST(@Labels AS jsonb),
                server = @Server, auth_type = @AuthType, insecure = @Insecure, credentials = @Credentials, context = @Context,
                credentials_version = credentials_version + CASE WHEN @ConnectionChanged THEN 1 ELSE 0 END,
                status = CASE WHEN @ConnectionChanged THEN 'connected' ELSE status END,
                version = CASE WHEN @ConnectionChanged THEN @Version ELSE version END,
                last_check = CASE WHEN @ConnectionChanged THEN now() ELSE last_check END,
                last_error = CASE WHEN @ConnectionChanged THEN NULL ELSE last_error END,
                updated_at = now()
            WHERE id = @Id
            """;

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var cluster = await directory.GetVisibleAsync(command.Name, caller, cancellationToken);
            if (!ClusterDirectory.CanManage(cluster, caller))
            {
                throw new ForbiddenException("Only the cluster's owner can change it");
            }

            var current = await db.QuerySingleAsync<Row>(Load, new { cluster.Id }, cancellationToken);
            var authType = ClusterAuthTypes.Normalise(Present(command.AuthType ?? command.AuthTypeSnake)) ?? cluster.AuthType;
            var server = Present(command.Server) ?? cluster.Server;
            var insecure = command.Insecure ?? cluster.Insecure;
            var connectionChanged = command.Credentials is not null || authType != cluster.AuthType || server != cluster.Server || insecure != cluster.Insecure;
            var credentials = command.Credentials?.ToCredentials() ?? ClusterCredentials.Open(cipher, cluster.Id, cluster.SealedCredentials);
            ClusterConnection? connection = null;
            string? version = null;
            if (connectionChanged)
            {
                try
                {
                    connection = credentials.ToConnection(authType, server, insecure, cluster.Namespace);
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
                        ? new ServiceUnavailableException($"Cluster '{cluster.Name}' is unreachable with the new settings; nothing was changed: {result.Error}")
                        : BadRequestException.ForField("credentials", $"The cluster did not accept the new settings; nothing was changed: {result.Error}");
                }

                version = result.Version;
            }

            var singleNode = command.SingleNode ?? command.SingleNodeSnake ?? current.SingleNode;
            await db.ExecuteAsync(
                Update,
                new
                {
                    cluster.Id,
                    DisplayName = Present(command.DisplayName) ?? current.DisplayName,
                    Description = Present(command.Description) ?? current.Description,
                    SingleNode = singleNode,
                    Labels = command.Labels is null ? current.Labels : JsonSerializer.Serialize(command.Labels),
                    Server = connection?.Server.ToString().TrimEnd('/') ?? cluster.Server,
                    AuthType = authType,
                    Insecure = insecure,
                    Credentials = connectionChanged ? credentials.Seal(cipher, cluster.Id) : cluster.SealedCredentials,
                    Context = connection?.ContextName ?? cluster.Context,
                    ConnectionChanged = connectionChanged,
                    Version = version,
                },
                cancellationToken);
            if (connectionChanged)
            {
                directory.Forget(cluster.Id);
            }

            if (singleNode != current.SingleNode)
            {
                using var client = new KubernetesClient(connection ?? directory.ConnectionOf(cluster), cluster.Name, pool.Options);
                await ControlPlaneTaints.SetSchedulableAsync(client, singleNode, cancellationToken);
            }

            audit.Record("cluster.update", "cluster", cluster.Id.ToString(), cluster.Name, new { connection_changed = connectionChanged, single_node = singleNode });
            return new Response("Cluster updated successfully", await ClusterShapes.LoadAsync(db, cluster.Id, caller, cancellationToken));
        }

        private static string? Present(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

        private sealed record Row(string DisplayName, string Description, bool SingleNode, string Labels);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPut("/v1/api/clusters/{name}", async (string name, Command command, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(command with { Name = name }, cancellationToken)))
                .RequirePermission(Permissions.ClusterEdit)
                .WithName(nameof(UpdateCluster))
                .WithTags(ClusterRoutes.Registry)
                .WithSummary("Update a cluster (seed 002)")
                .WithBodyLimit(10 * 1024 * 1024)
                .ProducesErrors(400, 401, 403, 404, 503);
    }
}
