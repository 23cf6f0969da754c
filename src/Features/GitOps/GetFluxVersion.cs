using System.Text.Json.Nodes;
using Capstan.Infrastructure.Clusters;
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

/// <summary><c>GET /api/v1/flux/version</c> (seed 000): the Flux version of the selected cluster, from the controllers'
/// deployments in the Flux namespace (label <c>app.kubernetes.io/version</c> of the one <c>part-of=flux</c> or named
/// source-controller; else the namespace's label; else <c>v2.x.x</c>), with each controller's image and readiness.
/// Needs a cluster-wide read policy.</summary>
public static class GetFluxVersion
{
    public const string Unknown = "v2.x.x";

    public sealed record Query(string? Cluster, string? ClusterCookie) : IQuery<Response>;

    public sealed record Controller(string Name, string? Version, string? Image, bool Ready);

    public sealed record Response(string Version, IReadOnlyList<Controller> Controllers, string Namespace);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Cluster).MaximumLength(100);
    }

    internal sealed class Handler(FluxGateway gateway, IConfiguration configuration) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var session = await gateway.OpenAsync(query.Cluster, query.ClusterCookie, cancellationToken);
            session.Access.DemandClusterWideRead(null, session.Target);
            var fluxNamespace = configuration["Flux:Namespace"] ?? "flux-system";
            var deployments = (await session.Client.ListAllAsync(KubernetesResourceType.Deployments, fluxNamespace, null, cancellationToken)).Items;
            var preferred = deployments.FirstOrDefault(deployment => Label(deployment, "app.kubernetes.io/part-of") == "flux" && Label(deployment, "app.kubernetes.io/version") is not null)
                ?? deployments.FirstOrDefault(deployment => deployment["metadata"]?["name"]?.ToString()?.Contains("source-controller", StringComparison.Ordinal) == true);
            var version = preferred is null ? null : Label(preferred, "app.kubernetes.io/version");
            if (version is null)
            {
                var ns = await session.Client.TryGetAsync(KubernetesResourceType.Namespaces, null, fluxNamespace, cancellationToken);
                version = ns is null ? null : Label(ns, "app.kubernetes.io/version");
            }

            var controllers = deployments
                .Select(deployment => new Controller(
                    deployment["metadata"]?["name"]?.ToString() ?? string.Empty,
                    Label(deployment, "app.kubernetes.io/version"),
                    deployment["spec"]?["template"]?["spec"]?["containers"]?[0]?["image"]?.ToString(),
                    deployment["status"]?["readyReplicas"] is JsonValue ready && ready.TryGetValue<int>(out var count) && count > 0))
                .OrderBy(controller => controller.Name, StringComparer.Ordinal)
                .ToList();
            return new Response(version ?? Unknown, controllers, fluxNamespace);
        }

        private static string? Label(JsonObject obj, string key) => obj["metadata"]?["labels"]?[key]?.ToString();
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/flux/version", async (string? cluster, HttpRequest request, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(cluster, request.Cookies[ClusterDirectory.CookieName]), cancellationToken)))
                .RequirePermission(Permissions.FluxRead)
                .WithName(nameof(GetFluxVersion))
                .WithTags(GitOpsRoutes.Diagnostics)
                .WithSummary("Flux version of the cluster")
                .ProducesErrors(401, 403, 404, 503);
    }
}
