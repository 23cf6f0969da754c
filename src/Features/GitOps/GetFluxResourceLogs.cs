using Capstan.Infrastructure.Clusters;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Flux;
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
using Microsoft.Extensions.Configuration;

namespace Capstan.Features.GitOps;

/// <summary><c>GET .../{namespace}/{name}/logs</c> (seed 000): the lines about this object from its controller's log:
/// the first running pod labelled <c>app=&lt;controller&gt;</c> (else <c>app.kubernetes.io/name</c>) in the Flux
/// namespace (<c>Flux:Namespace</c>, default <c>flux-system</c>), its last 1000 lines, those naming both
/// <c>"&lt;name&gt;"</c> and <c>"&lt;namespace&gt;"</c>. Needs read. <c>{logs, controller, pod, lines}</c>; 404 when the
/// object does not exist, 503 when no controller pod runs.</summary>
public static class GetFluxResourceLogs
{
    public sealed record Query(string ResourceType, string Namespace, string Name, string? Cluster, string? ClusterCookie) : IQuery<Response>;

    public sealed record Response(string Logs, string Controller, string Pod, int Lines);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.ResourceType).Must(type => FluxResourceTypes.Resolve(type) is not null).WithMessage(query => $"Invalid resource type: {query.ResourceType}. Valid types: {FluxResourceTypes.ValidTypes}");
            RuleFor(query => query.Namespace).Must(FluxGateway.IsNamespace).WithMessage(FluxGateway.NamespaceMessage);
            RuleFor(query => query.Name).Must(FluxGateway.IsName).WithMessage(FluxGateway.NameMessage);
        }
    }

    internal sealed class Handler(FluxGateway gateway, IConfiguration configuration) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var type = FluxGateway.ResolveType(query.ResourceType);
            var session = await gateway.OpenAsync(query.Cluster, query.ClusterCookie, cancellationToken);
            session.Access.Demand(FluxAction.Read, type.Kind, query.Namespace, session.Target);

            // A missing object is a 404 (the cluster's own message), not "no lines matched".
            await session.Client.GetAsync(type.Resource, query.Namespace, query.Name, cancellationToken);
            var fluxNamespace = configuration["Flux:Namespace"] ?? "flux-system";
            var pod = await RunningPodAsync(session.Client, fluxNamespace, $"app={type.Controller}", cancellationToken)
                ?? await RunningPodAsync(session.Client, fluxNamespace, $"app.kubernetes.io/name={type.Controller}", cancellationToken)
                ?? throw new ServiceUnavailableException($"No running {type.Controller} pod in namespace {fluxNamespace}");
            var text = await session.Client.GetPodLogsAsync(fluxNamespace, pod, new PodLogOptions { TailLines = 1000 }, cancellationToken);
            var matching = text.Split('\n')
                .Where(line => line.Contains($"\"{query.Name}\"", StringComparison.Ordinal) && line.Contains($"\"{query.Namespace}\"", StringComparison.Ordinal))
                .ToList();
            return new Response(
                matching.Count == 0 ? $"No controller log lines matched {type.Plural} {query.Namespace}/{query.Name}." : string.Join('\n', matching),
                type.Controller,
                pod,
                matching.Count);
        }

        private static async Task<string?> RunningPodAsync(KubernetesClient client, string ns, string selector, CancellationToken cancellationToken)
        {
            var pods = await client.ListAllAsync(KubernetesResourceType.Pods, ns, new ListOptions { LabelSelector = selector }, cancellationToken);
            return pods.Items.FirstOrDefault(pod => pod["status"]?["phase"]?.ToString() == "Running")?["metadata"]?["name"]?.ToString();
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/flux/{resourceType}/{namespace}/{name}/logs", async (
                    string resourceType, string @namespace, string name, string? cluster, HttpRequest request, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(resourceType, @namespace, name, cluster, request.Cookies[ClusterDirectory.CookieName]), cancellationToken)))
                .RequirePermission(Permissions.FluxRead)
                .WithName(nameof(GetFluxResourceLogs))
                .WithTags(GitOpsRoutes.Diagnostics)
                .WithSummary("Controller log lines about a Flux resource")
                .ProducesErrors(400, 401, 403, 404, 503);
    }
}
