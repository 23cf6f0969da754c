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
/// <c>POST /v1/api/clusters</c> (seed 002): registers a cluster owned by the caller, by <c>server</c> + <c>authType</c>
/// (token, certificate, serviceaccount, oidc) + <c>credentials</c>, or by <c>kubeconfig</c>. The reference doc's
/// <c>{auth_type: "bearer_token", token}</c> works too. The connection is tested at once: the cluster is saved either
/// way, <c>connected</c> (with its metadata read) or <c>disconnected</c>/<c>error</c>. 201 with KubeOrch's
/// <c>{message, cluster}</c> plus the reference doc's <c>{name, server, status, version}</c>; 409 for a taken name.
/// </summary>
public static class AddCluster
{
    public sealed record Command : ICommand<Response>
    {
        public string? Name { get; init; }

        public string? DisplayName { get; init; }

        [JsonPropertyName("display_name")]
        public string? DisplayNameSnake { get; init; }

        public string? Description { get; init; }

        public string? Server { get; init; }

        public string? AuthType { get; init; }

        [JsonPropertyName("auth_type")]
        public string? AuthTypeSnake { get; init; }

        public CredentialsInput? Credentials { get; init; }

        /// <summary>The reference doc's top-level bearer token.</summary>
        public string? Token { get; init; }

        public string? Kubeconfig { get; init; }

        public string? Context { get; init; }

        public string? Namespace { get; init; }

        public bool? SingleNode { get; init; }

        [JsonPropertyName("single_node")]
        public bool? SingleNodeSnake { get; init; }

        public bool? Insecure { get; init; }

        public Dictionary<string, string>? Labels { get; init; }

        [JsonIgnore]
        public string? EffectiveAuthType => ClusterAuthTypes.Normalise(AuthType ?? AuthTypeSnake ?? (Kubeconfig is not null ? ClusterAuthTypes.Kubeconfig : null));

        [JsonIgnore]
        public ClusterCredentials EffectiveCredentials => (Credentials ?? new CredentialsInput()).ToCredentials(Token, Kubeconfig, Context);
    }

    public sealed record Response(string Message, ClusterResponse Cluster, string Name, string Server, string Status, string? Version);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Name).NotEmpty().MaximumLength(100)
                .Matches("^[A-Za-z0-9][A-Za-z0-9._-]*$").WithMessage("name may contain letters, digits, '.', '_' and '-' and must start with a letter or digit")
                .Must(name => !string.Equals(name, "default", StringComparison.OrdinalIgnoreCase)).WithMessage("'default' is reserved");
            RuleFor(command => command.AuthType ?? command.AuthTypeSnake).NotEmpty().When(command => command.Kubeconfig is null)
                .WithMessage("authType is required").OverridePropertyName("authType");
            RuleFor(command => command.EffectiveAuthType).NotNull().When(command => (command.AuthType ?? command.AuthTypeSnake) is not null)
                .WithMessage($"authType must be one of: {string.Join(", ", ClusterAuthTypes.All)} (or bearer_token)").OverridePropertyName("authType");
            RuleFor(command => command.Server).NotEmpty().When(command => command.EffectiveAuthType is not (ClusterAuthTypes.Kubeconfig or ClusterAuthTypes.ServiceAccount))
                .WithMessage("server is required");
            RuleFor(command => command.Server).Must(server => Uri.TryCreate(server, UriKind.Absolute, out var uri) && uri.Scheme is "https" or "http")
                .When(command => !string.IsNullOrEmpty(command.Server)).WithMessage("server must be an http(s) URL");
            RuleFor(command => command.DisplayName ?? command.DisplayNameSnake).MaximumLength(200).OverridePropertyName("displayName");
            RuleFor(command => command.Description).MaximumLength(1000);
            RuleFor(command => command.Labels).Must(labels => labels is null || labels.Count <= 50).WithMessage("at most 50 labels");
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, EnvelopeCipher cipher, ClusterProbe probe, KubernetesClientPool pool, TimeProvider clock)
        : IRequestHandler<Command, Response>
    {
        private const string Taken = "SELECT EXISTS (SELECT 1 FROM clusters.clusters WHERE lower(name) = lower(@Name))";

        private const string Insert = """
            INSERT INTO clusters.clusters
                (id, name, display_name, description, server, auth_type, credentials, context, namespace, insecure, scope, owner_id,
                 single_node, labels, status, version, last_check, last_error, metadata, created_at, updated_at)
            VALUES
                (@Id, @Name, @DisplayName, @Description, @Server, @AuthType, @Credentials, @Context, @Namespace, @Insecure, 'user', @OwnerId,
                 @SingleNode, CAST(@Labels AS jsonb), @Status, @Version, @Now, @Error, CAST(@Metadata AS jsonb), @Now, @Now)
            """;

        private const string Log = """
            INSERT INTO clusters.connection_logs (id, cluster_id, user_id, action, success, error, details, created_at)
            VALUES (@Id, @ClusterId, @UserId, 'cluster_added', @Success, @Error, CAST(@Details AS jsonb), @Now)
            """;

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var name = command.Name!.Trim();
            if (await db.ExecuteScalarAsync<bool>(Taken, new { Name = name }, cancellationToken))
            {
                throw new ConflictException($"A cluster named '{name}' already exists");
            }

            var authType = command.EffectiveAuthType!;
            var credentials = command.EffectiveCredentials;
            ClusterConnection connection;
            try
            {
                connection = credentials.ToConnection(authType, command.Server, command.Insecure ?? false, command.Namespace);
                using var validated = new KubernetesClient(connection, name, pool.Options);
            }
            catch (FormatException exception)
            {
                throw BadRequestException.ForField("credentials", exception.Message);
            }

            var result = await probe.ProbeAsync(() => connection, name, cancellationToken);
            var singleNode = command.SingleNode ?? command.SingleNodeSnake ?? false;
            var metadata = "{}";
            if (result.Connected)
            {
                using var client = new KubernetesClient(connection, name, pool.Options);
                try
                {
                    metadata = JsonSerializer.Serialize(await ClusterInspector.ReadMetadataAsync(client, clock, cancellationToken), JsonSerializerOptions.Web);
                    if (singleNode)
                    {
                        await ControlPlaneTaints.SetSchedulableAsync(client, schedulable: true, cancellationToken);
                    }
                }
                catch (KubernetesApiException)
                {
                    // Metadata is best effort; the connection itself was verified.
                }
            }

            var id = Guid.CreateVersion7();
            var now = clock.GetUtcNow().UtcDateTime;
            await db.ExecuteAsync(
                Insert,
                new
                {
                    Id = id,
                    Name = name,
                    DisplayName = (command.DisplayName ?? command.DisplayNameSnake ?? string.Empty).Trim(),
                    Description = command.Description?.Trim() ?? string.Empty,
                    Server = connection.Server.ToString().TrimEnd('/'),
                    AuthType = authType,
                    Credentials = credentials.Seal(cipher, id),
                    Context = connection.ContextName,
                    connection.Namespace,
                    Insecure = command.Insecure ?? false,
                    OwnerId = caller.UserId,
                    SingleNode = singleNode,
                    Labels = JsonSerializer.Serialize(command.Labels ?? []),
                    result.Status,
                    result.Version,
                    result.Error,
                    Metadata = metadata,
                    Now = now,
                },
                cancellationToken);
            await db.ExecuteAsync(
                Log,
                new { Id = Guid.CreateVersion7(), ClusterId = id, caller.UserId, Success = result.Connected, result.Error, Details = JsonSerializer.Serialize(new { result.Status, result.Version }), Now = now },
                cancellationToken);
            audit.Record("cluster.create", "cluster", id.ToString(), name, new { auth_type = authType, status = result.Status });

            var cluster = await ClusterShapes.LoadAsync(db, id, caller, cancellationToken);
            return new Response("Cluster added successfully", cluster, cluster.Name, cluster.Server, cluster.Status, result.Version);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/v1/api/clusters", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var response = await mediator.Send(command, cancellationToken);
                    return TypedResults.Created($"/v1/api/clusters/{Uri.EscapeDataString(response.Name)}", response);
                })
                .RequirePermission(Permissions.ClusterEdit)
                .WithName(nameof(AddCluster))
                .WithTags(ClusterRoutes.Registry)
                .WithSummary("Add a new cluster (seed 002)")
                .WithBodyLimit(10 * 1024 * 1024)
                .ProducesErrors(400, 401, 403, 409);
    }
}
