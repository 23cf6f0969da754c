using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Capstan.Infrastructure.Clusters;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Delivery;
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

namespace Capstan.Features.Delivery.Diagnostics;

/// <summary>
/// <c>GET /v1/api/workflows/{id}/nodes/{nodeId}/diagnostics</c> (seed 002, reference §8b): why a service node's
/// Service does not serve, checked in the cluster in order — <c>service-exists</c> (if it does not, only that),
/// <c>endpoints-exist</c>, <c>loadbalancer-provisioned</c> (LoadBalancer services; MetalLB without an address pool is
/// auto-fixable), <c>selector-match</c> (auto-fix <c>selector-fix</c>), <c>pods-ready</c>, <c>port-config</c> (auto-fix
/// <c>port-fix</c>). <c>overallStatus</c> is the worst check. Service nodes only (else 400); the upstream did not check
/// ownership, this does (404).
/// </summary>
public static class GetNodeDiagnostics
{
    public sealed record Query(Guid Id, string NodeId) : IQuery<Response>;

    public sealed record Check(string Name, string Status, string Message, string Suggestion, bool AutoFixable)
    {
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public string? FixType { get; init; }
    }

    public sealed record Response(string OverallStatus, string ServiceName, string Namespace, IReadOnlyList<Check> Checks, DateTime Timestamp);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.Id).NotEmpty();
            RuleFor(query => query.NodeId).NotEmpty().MaximumLength(200);
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, ClusterDirectory directory) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var workflow = await WorkflowStore.GetOwnedAsync(db, query.Id, caller.UserId, cancellationToken);
            var graph = workflow.Graph();
            var node = graph.Node(query.NodeId) ?? throw new NotFoundException("Node not found");
            if (ManifestRenderer.KindOf(node, []) != ManifestRenderer.Service)
            {
                throw new BadRequestException("Diagnostics only supported for service nodes");
            }

            var data = ManifestRenderer.Effective(graph, node, ManifestRenderer.Service);
            var name = ManifestRenderer.NameOf(node, data);
            var ns = data.StrOr("namespace", "default");
            var client = directory.Connect(await DeliveryClusters.ResolveAsync(directory, caller, workflow.ClusterId, cancellationToken));
            var checks = await RunChecksAsync(client, name, ns, data, cancellationToken);
            var overall = checks.Any(check => check.Status == "error") ? "error" : checks.Any(check => check.Status == "warning") ? "warning" : "healthy";
            return new Response(overall, name, ns, checks, DateTime.UtcNow);
        }

        private static async Task<List<Check>> RunChecksAsync(KubernetesClient client, string name, string ns, NodeData data, CancellationToken cancellationToken)
        {
            var checks = new List<Check>();
            var service = await client.TryGetAsync(KubernetesResourceType.Services, ns, name, cancellationToken);
            if (service is null)
            {
                checks.Add(new Check("service-exists", "error", $"Service {ns}/{name} does not exist in the cluster", "Run the workflow to create it", false));
                return checks;
            }

            checks.Add(new Check("service-exists", "pass", $"Service {ns}/{name} exists", string.Empty, false));
            var spec = service["spec"] as JsonObject ?? [];
            var endpoints = await client.TryGetAsync(DeliveryKinds.Endpoints, ns, name, cancellationToken);
            var addresses = (endpoints?["subsets"] as JsonArray ?? []).OfType<JsonObject>().Sum(subset => (subset["addresses"] as JsonArray)?.Count ?? 0);
            checks.Add(addresses > 0
                ? new Check("endpoints-exist", "pass", $"{addresses} endpoint(s) ready", string.Empty, false)
                : new Check("endpoints-exist", "error", "The service has no ready endpoints: no ready pod matches its selector", "Check the selector and whether the pods are ready", false));

            if (NodeData.Text(spec["type"]) == "LoadBalancer")
            {
                var ingress = service["status"]?["loadBalancer"]?["ingress"] as JsonArray;
                if (ingress is { Count: > 0 })
                {
                    checks.Add(new Check("loadbalancer-provisioned", "pass", $"Load balancer address: {NodeData.Text(ingress[0]?["ip"]) ?? NodeData.Text(ingress[0]?["hostname"])}", string.Empty, false));
                }
                else if (await client.TryGetAsync(KubernetesResourceType.Namespaces, null, "metallb-system", cancellationToken) is not null)
                {
                    checks.Add(new Check("loadbalancer-provisioned", "warning", "MetalLB is installed but assigned no address", "Give MetalLB an address pool", true) { FixType = "metallb-pool" });
                }
                else
                {
                    checks.Add(new Check("loadbalancer-provisioned", "warning", "No load balancer address was assigned", "On a cloud provider check its load balancer controller; on bare metal install MetalLB", false));
                }
            }

            var selector = NodeData.StringMap(spec["selector"]);
            var pods = new List<JsonObject>();
            if (selector.Count == 0)
            {
                checks.Add(new Check("selector-match", "warning", "The service has no selector", $"Select the pods of app '{data.Str("targetApp") ?? name}'", data.Has("targetApp")) { FixType = data.Has("targetApp") ? "selector-fix" : null });
            }
            else
            {
                var labelSelector = string.Join(',', selector.Select(pair => $"{pair.Key}={pair.Value}"));
                pods = [.. KubernetesClient.ItemsOf(await client.ListAsync(KubernetesResourceType.Pods, ns, new ListOptions { LabelSelector = labelSelector }, cancellationToken))];
                var fixable = data.Str("targetApp") is { } targetApp && !selector.Any(pair => pair.Key == "app" && pair.Value == targetApp);
                checks.Add(pods.Count > 0
                    ? new Check("selector-match", "pass", $"{pods.Count} pod(s) match selector {labelSelector}", string.Empty, false)
                    : new Check("selector-match", "error", $"No pods match selector {labelSelector}", fixable ? $"Select app={data.Str("targetApp")}" : "Check the pods' labels", fixable) { FixType = fixable ? "selector-fix" : null });
            }

            if (pods.Count > 0)
            {
                var notReady = pods.Where(pod => !Ready(pod)).Select(pod => $"{pod["metadata"]?["name"]} ({Reason(pod)})").ToList();
                checks.Add(notReady.Count == 0
                    ? new Check("pods-ready", "pass", $"All {pods.Count} pod(s) ready", string.Empty, false)
                    : new Check("pods-ready", notReady.Count == pods.Count ? "error" : "warning", $"Pods not ready: {string.Join(", ", notReady)}", "Look at the pods' events and logs", false));
                var containerPorts = pods.SelectMany(pod => (pod["spec"]?["containers"] as JsonArray ?? []).OfType<JsonObject>())
                    .SelectMany(container => (container["ports"] as JsonArray ?? []).OfType<JsonObject>())
                    .Select(port => (Number: NodeData.Number(port["containerPort"]), Name: NodeData.Text(port["name"])))
                    .ToList();
                var mismatched = (spec["ports"] as JsonArray ?? []).OfType<JsonObject>()
                    .Select(port => port["targetPort"] ?? port["port"])
                    .Where(target => NodeData.Number(target) is { } number ? containerPorts.All(port => port.Number != number) : containerPorts.All(port => port.Name != NodeData.Text(target)))
                    .Select(target => NodeData.Text(target))
                    .ToList();
                checks.Add(mismatched.Count == 0 || containerPorts.Count == 0
                    ? new Check("port-config", "pass", "The target ports match the containers' ports", string.Empty, false)
                    : new Check("port-config", "warning", $"Target port {string.Join(", ", mismatched)} is not a port of the selected containers ({string.Join(", ", containerPorts.Select(port => port.Number))})", "Point the service at a container port", true) { FixType = "port-fix" });
            }

            return checks;
        }

        private static bool Ready(JsonObject pod) =>
            (pod["status"]?["conditions"] as JsonArray ?? []).OfType<JsonObject>().Any(condition => NodeData.Text(condition["type"]) == "Ready" && NodeData.Text(condition["status"]) == "True");

        private static string Reason(JsonObject pod) =>
            (pod["status"]?["containerStatuses"] as JsonArray ?? []).OfType<JsonObject>()
                .Select(status => NodeData.Text(status["state"]?["waiting"]?["reason"]) ?? NodeData.Text(status["state"]?["terminated"]?["reason"]))
                .FirstOrDefault(reason => reason is not null)
            ?? NodeData.Text(pod["status"]?["phase"]) ?? "Unknown";
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/workflows/{id}/nodes/{nodeId}/diagnostics", async (Guid id, string nodeId, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id, nodeId), cancellationToken)))
                .RequirePermission(Permissions.DeliveryRead)
                .WithName("Delivery" + nameof(GetNodeDiagnostics))
                .WithTags(DeliveryRoutes.Diagnostics)
                .WithSummary("Get diagnostics for a node")
                .ProducesErrors(400, 401, 403, 404, 503);
    }
}
