using System.Net;
using System.Text.Json.Nodes;
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
/// <c>GET /v1/api/workflows/{id}/nodes/{nodeId}/fix-template/{fixType}</c> (seed 002, reference §8b): the YAML a fix
/// would apply, for review — <c>selector-fix</c> (the Service selecting <c>app: &lt;targetApp&gt;</c>), <c>port-fix</c>
/// (the Service's port to its workload's container port) and <c>metallb-pool</c> (an <c>IPAddressPool</c> of
/// <c>x.y.z.100-110</c> on the first node's /24 plus its <c>L2Advertisement</c>; 400 on a cloud provider's cluster or
/// without MetalLB). Unknown types are a 400. Answers <c>{name, description, yaml, applyMethod, fixType}</c>.
/// </summary>
public static class GetFixTemplate
{
    public static readonly string[] FixTypes = ["metallb-pool", "selector-fix", "port-fix"];

    public sealed record Query(Guid Id, string NodeId, string FixType) : IQuery<Response>;

    public sealed record Response(string Name, string Description, string Yaml, string ApplyMethod, string FixType);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.Id).NotEmpty();
            RuleFor(query => query.NodeId).NotEmpty().MaximumLength(200);
            RuleFor(query => query.FixType).Must(type => FixTypes.Contains(type)).WithMessage(query => $"unknown fix type: {query.FixType}").OverridePropertyName("fixType");
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
                throw new BadRequestException("Fixes are only available for service nodes");
            }

            var data = ManifestRenderer.Effective(graph, node, ManifestRenderer.Service);
            var name = ManifestRenderer.NameOf(node, data);
            var ns = data.StrOr("namespace", "default");
            var client = directory.Connect(await DeliveryClusters.ResolveAsync(directory, caller, workflow.ClusterId, cancellationToken));
            return query.FixType switch
            {
                "selector-fix" => Selector(name, ns, data),
                "port-fix" => await PortAsync(client, name, ns, data, cancellationToken),
                _ => await MetalLbAsync(client, cancellationToken),
            };
        }

        private static Response Selector(string name, string ns, NodeData data)
        {
            var app = data.Str("targetApp") ?? throw new BadRequestException("The service node names no targetApp to select; set it or connect the service to a workload");
            var yaml = YamlJson.Serialize(new JsonObject
            {
                ["apiVersion"] = "v1",
                ["kind"] = "Service",
                ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns },
                ["spec"] = new JsonObject { ["selector"] = new JsonObject { ["app"] = app } },
            });
            return new Response("Fix service selector", $"Select the pods labelled app={app}", yaml, "kubectl-apply", "selector-fix");
        }

        private static async Task<Response> PortAsync(KubernetesClient client, string name, string ns, NodeData data, CancellationToken cancellationToken)
        {
            var port = data.Long("port") ?? 80;
            long? targetPort = data.Long("targetPort");
            if (targetPort is null && data.Str("targetApp") is { } app)
            {
                var pods = KubernetesClient.ItemsOf(await client.ListAsync(KubernetesResourceType.Pods, ns, new ListOptions { LabelSelector = $"app={app}", Limit = 1 }, cancellationToken));
                targetPort = pods.SelectMany(pod => (pod["spec"]?["containers"] as JsonArray ?? []).OfType<JsonObject>())
                    .SelectMany(container => (container["ports"] as JsonArray ?? []).OfType<JsonObject>())
                    .Select(item => NodeData.Number(item["containerPort"]))
                    .FirstOrDefault(number => number is not null);
            }

            var yaml = YamlJson.Serialize(new JsonObject
            {
                ["apiVersion"] = "v1",
                ["kind"] = "Service",
                ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns },
                ["spec"] = new JsonObject
                {
                    ["ports"] = new JsonArray(new JsonObject { ["name"] = "http", ["protocol"] = "TCP", ["port"] = port, ["targetPort"] = targetPort ?? 8080 }),
                },
            });
            return new Response("Fix service ports", $"Route port {port} to container port {targetPort ?? 8080}", yaml, "kubectl-apply", "port-fix");
        }

        private static async Task<Response> MetalLbAsync(KubernetesClient client, CancellationToken cancellationToken)
        {
            if (await client.TryGetAsync(KubernetesResourceType.Namespaces, null, "metallb-system", cancellationToken) is null)
            {
                throw new BadRequestException("MetalLB is not installed in this cluster (no metallb-system namespace)");
            }

            var nodes = KubernetesClient.ItemsOf(await client.ListAsync(KubernetesResourceType.Nodes, null, new ListOptions { Limit = 50 }, cancellationToken));
            if (nodes.FirstOrDefault(item => NodeData.Text(item["spec"]?["providerID"]) is { } provider && !provider.StartsWith("kind://", StringComparison.Ordinal)) is { } cloud)
            {
                throw new BadRequestException($"The cluster runs on a cloud provider ({NodeData.Text(cloud["spec"]?["providerID"])?.Split(':')[0]}): its load balancers come from the provider, not MetalLB");
            }

            var internalIp = nodes.SelectMany(item => (item["status"]?["addresses"] as JsonArray ?? []).OfType<JsonObject>())
                .Where(address => NodeData.Text(address["type"]) == "InternalIP")
                .Select(address => NodeData.Text(address["address"]))
                .FirstOrDefault(address => IPAddress.TryParse(address, out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork);
            var prefix = internalIp is null ? "192.168.49" : string.Join('.', internalIp.Split('.')[..3]);
            var range = $"{prefix}.100-{prefix}.110";
            var yaml = YamlJson.SerializeAll(
            [
                new JsonObject
                {
                    ["apiVersion"] = "metallb.io/v1beta1",
                    ["kind"] = "IPAddressPool",
                    ["metadata"] = new JsonObject { ["name"] = "kubeorch-pool", ["namespace"] = "metallb-system" },
                    ["spec"] = new JsonObject { ["addresses"] = new JsonArray(range) },
                },
                new JsonObject
                {
                    ["apiVersion"] = "metallb.io/v1beta1",
                    ["kind"] = "L2Advertisement",
                    ["metadata"] = new JsonObject { ["name"] = "kubeorch-l2", ["namespace"] = "metallb-system" },
                    ["spec"] = new JsonObject { ["ipAddressPools"] = new JsonArray("kubeorch-pool") },
                },
            ]);
            return new Response("Configure MetalLB address pool", $"Let MetalLB hand out {range} on the nodes' network", yaml, "kubectl-apply", "metallb-pool");
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/workflows/{id}/nodes/{nodeId}/fix-template/{fixType}", async (Guid id, string nodeId, string fixType, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id, nodeId, fixType), cancellationToken)))
                .RequirePermission(Permissions.DeliveryRead)
                .WithName("Delivery" + nameof(GetFixTemplate))
                .WithTags(DeliveryRoutes.Diagnostics)
                .WithSummary("Get auto-fix template")
                .ProducesErrors(400, 401, 403, 404, 503);
    }
}
