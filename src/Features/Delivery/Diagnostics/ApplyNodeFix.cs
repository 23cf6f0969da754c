using System.Text.Json.Nodes;
using Capstan.Infrastructure.Audit;
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
/// <c>POST /v1/api/workflows/{id}/nodes/{nodeId}/fix</c> (seed 002, reference §8b): <c>{fixType, yaml, mode?}</c> applies
/// a fix — the template's YAML, possibly edited — with server-side apply (field manager <c>kubeorch-fix</c>). The YAML
/// may only touch what its fix is about: the node's own Service for <c>selector-fix</c>/<c>port-fix</c>, MetalLB pools
/// and advertisements in <c>metallb-system</c> for <c>metallb-pool</c> (after which MetalLB's controller is restarted);
/// anything else is a 400, so the route is not a general apply. Answers <c>{success, message, result, fixType, mode}</c>.
/// </summary>
public static class ApplyNodeFix
{
    private static readonly string[] FixTypes = ["metallb-pool", "selector-fix", "port-fix"];

    public sealed record Body(string? FixType, string? Yaml, string? Mode);

    public sealed record Command(Guid Id, string NodeId, string? FixType, string? Yaml, string? Mode) : ICommand<Response>;

    public sealed record Response(bool Success, string Message, JsonObject Result, string FixType, string Mode);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Id).NotEmpty();
            RuleFor(command => command.NodeId).NotEmpty().MaximumLength(200);
            RuleFor(command => command.FixType).Must(type => type is not null && FixTypes.Contains(type)).WithMessage(command => $"unknown fix type: {command.FixType}");
            RuleFor(command => command.Yaml).NotEmpty().WithMessage("yaml is required").MaximumLength(64 * 1024);
            RuleFor(command => command.Mode).Must(mode => mode is null or "auto" or "manual").WithMessage("mode is auto or manual");
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, ClusterDirectory directory, AuditTrail audit) : IRequestHandler<Command, Response>
    {
        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var workflow = await WorkflowStore.GetOwnedAsync(db, command.Id, caller.UserId, cancellationToken);
            var graph = workflow.Graph();
            var node = graph.Node(command.NodeId) ?? throw new NotFoundException("Node not found");
            if (ManifestRenderer.KindOf(node, []) != ManifestRenderer.Service)
            {
                throw new BadRequestException("Fixes are only available for service nodes");
            }

            var data = ManifestRenderer.Effective(graph, node, ManifestRenderer.Service);
            var name = ManifestRenderer.NameOf(node, data);
            var ns = data.StrOr("namespace", "default");
            List<JsonObject> objects;
            try
            {
                objects = [.. YamlJson.ParseAll(command.Yaml!).Select(document => document as JsonObject ?? throw new FormatException("every document must be a mapping"))];
            }
            catch (FormatException exception)
            {
                throw BadRequestException.ForField("yaml", $"The YAML is not valid: {exception.Message}");
            }

            if (objects.Count == 0)
            {
                throw BadRequestException.ForField("yaml", "The YAML holds no object");
            }

            foreach (var obj in objects)
            {
                if (Refusal(command.FixType!, obj, name, ns) is { } refusal)
                {
                    throw BadRequestException.ForField("yaml", refusal);
                }
            }

            var client = directory.Connect(await DeliveryClusters.ResolveAsync(directory, caller, workflow.ClusterId, cancellationToken));
            var applied = new List<AppliedObject>();
            foreach (var obj in objects)
            {
                applied.Add(await ManifestApplier.ApplyAsync(client, obj, cancellationToken, "kubeorch-fix"));
            }

            if (command.FixType == "metallb-pool"
                && await client.TryGetAsync(KubernetesResourceType.Deployments, "metallb-system", "controller", cancellationToken) is not null)
            {
                await client.PatchAsync(KubernetesResourceType.Deployments, "metallb-system", "controller", KubernetesPatch.Merge(new JsonObject
                {
                    ["spec"] = new JsonObject
                    {
                        ["template"] = new JsonObject
                        {
                            ["metadata"] = new JsonObject { ["annotations"] = new JsonObject { ["kubectl.kubernetes.io/restartedAt"] = DateTime.UtcNow.ToString("O") } },
                        },
                    },
                }), cancellationToken);
            }

            audit.Record("delivery.workflow.fix", "workflow", workflow.Id.ToString(), workflow.Name, new
            {
                node = node.Id,
                fix_type = command.FixType,
                mode = command.Mode ?? "manual",
                objects = applied.Select(item => $"{item.Kind} {item.Namespace}/{item.Name}"),
            });
            return new Response(
                true,
                "Fix applied successfully",
                new JsonObject
                {
                    ["applied_resources"] = new JsonArray([.. applied.Select(item => (JsonNode)item.ToJson())]),
                    ["errors"] = new JsonArray(),
                    ["failed"] = false,
                },
                command.FixType!,
                command.Mode ?? "manual");
        }

        private static string? Refusal(string fixType, JsonObject obj, string service, string ns)
        {
            var apiVersion = NodeData.Text(obj["apiVersion"]);
            var kind = NodeData.Text(obj["kind"]);
            var objectName = NodeData.Text(obj["metadata"]?["name"]);
            var objectNamespace = NodeData.Text(obj["metadata"]?["namespace"]) ?? "default";
            return fixType switch
            {
                "selector-fix" or "port-fix" when apiVersion != "v1" || kind != "Service" || objectName != service || objectNamespace != ns =>
                    $"A {fixType} may only change Service {ns}/{service}",
                "metallb-pool" when apiVersion is not ("metallb.io/v1beta1" or "metallb.io/v1beta2") || kind is not ("IPAddressPool" or "L2Advertisement") || objectNamespace != "metallb-system" =>
                    "A metallb-pool fix may only create MetalLB IPAddressPools and L2Advertisements in metallb-system",
                _ => objectName is null ? "Every object needs metadata.name" : null,
            };
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/v1/api/workflows/{id}/nodes/{nodeId}/fix", async (Guid id, string nodeId, Body body, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id, nodeId, body.FixType, body.Yaml, body.Mode), cancellationToken)))
                .RequirePermission(Permissions.DeliveryDeploy)
                .WithName("Delivery" + nameof(ApplyNodeFix))
                .WithTags(DeliveryRoutes.Diagnostics)
                .WithSummary("Apply auto-fix to a node")
                .ProducesErrors(400, 401, 403, 404, 503);
    }
}
