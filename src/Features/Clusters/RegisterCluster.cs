using System.Text.Json;
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
/// <c>POST /api/v1/clusters</c> (seed 001): <c>{name, kubeconfig, context?, description?}</c> registers a platform
/// cluster from an uploaded kubeconfig (YAML or JSON, <c>kind: Config</c>, clusters and contexts; no file references or
/// exec plugins). <c>context</c> picks the context (default: the kubeconfig's current one). The kubeconfig is encrypted
/// at rest and never returned; its contexts are listed. The connection is tested at once. 201 with the cluster.
/// </summary>
public static class RegisterCluster
{
    public sealed record Command(string? Name, string? Kubeconfig, string? Context, string? Description) : ICommand<RegistryClusterView>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Name).NotEmpty().Length(3, 100)
                .Matches("^[A-Za-z0-9][A-Za-z0-9._-]*$").WithMessage("name may contain letters, digits, '.', '_' and '-' and must start with a letter or digit")
                .Must(name => !string.Equals(name, "default", StringComparison.OrdinalIgnoreCase)).WithMessage("'default' is reserved");
            RuleFor(command => command.Kubeconfig).NotEmpty();
            RuleFor(command => command.Description).MaximumLength(500);
            RuleFor(command => command.Context).MaximumLength(253);
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, EnvelopeCipher cipher, ClusterProbe probe, KubernetesClientPool pool, TimeProvider clock)
        : IRequestHandler<Command, RegistryClusterView>
    {
        private const string Taken = "SELECT EXISTS (SELECT 1 FROM clusters.clusters WHERE lower(name) = lower(@Name))";

        private const string Insert = """
            INSERT INTO clusters.clusters
                (id, name, description, server, auth_type, credentials, context, contexts, namespace, insecure, scope, owner_id,
                 status, version, last_check, last_error, created_at, updated_at)
            VALUES
                (@Id, @Name, @Description, @Server, 'kubeconfig', @Credentials, @Context, CAST(@Contexts AS jsonb), @Namespace, false, 'platform', @OwnerId,
                 @Status, @Version, @Now, @Error, @Now, @Now)
            """;

        private const string Log = """
            INSERT INTO clusters.connection_logs (id, cluster_id, user_id, action, success, error, details, created_at)
            VALUES (@Id, @ClusterId, @UserId, 'cluster_added', @Success, @Error, CAST(@Details AS jsonb), @Now)
            """;

        public async Task<RegistryClusterView> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var name = command.Name!.Trim();
            if (await db.ExecuteScalarAsync<bool>(Taken, new { Name = name }, cancellationToken))
            {
                throw new ConflictException($"A cluster named '{name}' already exists");
            }

            KubeConfig kubeconfig;
            ClusterConnection connection;
            try
            {
                kubeconfig = KubeConfig.Parse(command.Kubeconfig!);
                if (!string.IsNullOrEmpty(command.Context) && !kubeconfig.HasContext(command.Context))
                {
                    throw BadRequestException.ForField("context", $"The kubeconfig has no context named '{command.Context}' (it has: {string.Join(", ", kubeconfig.ContextNames)})");
                }

                connection = kubeconfig.ToConnection(command.Context);
                using var validated = new KubernetesClient(connection, name, pool.Options);
            }
            catch (FormatException exception)
            {
                throw BadRequestException.ForField("kubeconfig", exception.Message);
            }

            var credentials = new ClusterCredentials { Kubeconfig = command.Kubeconfig, Context = connection.ContextName };
            var result = await probe.ProbeAsync(() => connection, name, cancellationToken);
            var id = Guid.CreateVersion7();
            var now = clock.GetUtcNow().UtcDateTime;
            await db.ExecuteAsync(
                Insert,
                new
                {
                    Id = id,
                    Name = name,
                    Description = command.Description?.Trim() ?? string.Empty,
                    Server = connection.Server.ToString().TrimEnd('/'),
                    Credentials = credentials.Seal(cipher, id),
                    Context = connection.ContextName,
                    Contexts = JsonSerializer.Serialize(kubeconfig.Contexts(), JsonSerializerOptions.Web),
                    connection.Namespace,
                    OwnerId = caller.UserId,
                    result.Status,
                    result.Version,
                    result.Error,
                    Now = now,
                },
                cancellationToken);
            await db.ExecuteAsync(
                Log,
                new { Id = Guid.CreateVersion7(), ClusterId = id, caller.UserId, Success = result.Connected, result.Error, Details = JsonSerializer.Serialize(new { result.Status, result.Version }), Now = now },
                cancellationToken);
            audit.Record("cluster.create", "cluster", id.ToString(), name, new { auth_type = "kubeconfig", context = connection.ContextName, status = result.Status });
            return await ClusterShapes.LoadRegistryViewAsync(db, id, caller, cancellationToken);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/clusters", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var cluster = await mediator.Send(command, cancellationToken);
                    return TypedResults.Created($"/api/v1/clusters/{cluster.Id}", cluster);
                })
                .RequirePermission(Permissions.ClusterManage)
                .WithName(nameof(RegisterCluster))
                .WithTags(ClusterRoutes.Registry)
                .WithSummary("Register a cluster from a kubeconfig (seed 001)")
                .WithBodyLimit(10 * 1024 * 1024)
                .ProducesErrors(400, 401, 403, 409);
    }
}
