using System.Text.Json.Nodes;
using System.Threading.Channels;
using Capstan.Infrastructure.Clusters;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Delivery;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Events;
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

namespace Capstan.Features.Delivery.Runs;

/// <summary>
/// <c>GET /v1/api/workflows/{id}/status/stream</c> (seed 002, SSE). <c>metadata</c> first (the workflow, with each
/// node's last <c>_status</c>); then <c>node_update</c> frames (<c>{type, stream_key, event_type, timestamp, data:
/// {node_id, type, status}}</c>) from runs on any replica and, once the workflow has run, from watches on its
/// deployed objects in the cluster (a deployment becoming ready, a load balancer getting its address);
/// <c>workflow_sync</c> with every node when a run completes; a <c>: heartbeat</c> comment every
/// <c>Delivery:Streams:HeartbeatSeconds</c> (15); and <c>complete</c> when the workflow is archived or deleted or
/// the service stops.
/// </summary>
public static class StreamWorkflowStatus
{
    private static readonly Dictionary<string, KubernetesResourceType> Watched = new(StringComparer.Ordinal)
    {
        [ManifestRenderer.Deployment] = KubernetesResourceType.Deployments,
        [ManifestRenderer.StatefulSet] = DeliveryKinds.StatefulSets,
        [ManifestRenderer.DaemonSet] = DeliveryKinds.DaemonSets,
        [ManifestRenderer.Job] = DeliveryKinds.Jobs,
        [ManifestRenderer.Service] = KubernetesResourceType.Services,
        [ManifestRenderer.Ingress] = DeliveryKinds.Ingresses,
        [ManifestRenderer.Pvc] = KubernetesResourceType.PersistentVolumeClaims,
    };

    public sealed record Query(Guid Id) : IQuery<WorkflowRow>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, WorkflowRow>
    {
        public Task<WorkflowRow> Handle(Query query, CancellationToken cancellationToken) =>
            WorkflowStore.GetOwnedAsync(db, query.Id, request.RequiredCaller.UserId, cancellationToken);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/workflows/{id}/status/stream", async (Guid id, HttpContext context, IMediator mediator, EventHub hub, ClusterDirectory directory, RequestContext request, IConfiguration configuration) =>
                {
                    var workflow = await mediator.Send(new Query(id), context.RequestAborted);
                    await StreamAsync(context, workflow, hub, directory, request.RequiredCaller, configuration);
                    return Results.Empty;
                })
                .RequirePermission(Permissions.DeliveryRead)
                .WithName("Delivery" + nameof(StreamWorkflowStatus))
                .WithTags(DeliveryRoutes.Runs)
                .WithSummary("SSE stream for workflow execution status")
                .Produces(200, contentType: "text/event-stream")
                .ProducesErrors(400, 401, 403, 404);
    }

    private static async Task StreamAsync(HttpContext context, WorkflowRow workflow, EventHub hub, ClusterDirectory directory, Caller caller, IConfiguration configuration)
    {
        await using var stream = new MergedEventStream(context.RequestAborted);
        var token = stream.Token;

        // Subscribe before anything is sent, so nothing raised after the client saw metadata is missed.
        stream.Subscribe(hub, DeliveryEvents.WorkflowTopic(workflow.Id));
        var sse = await ServerSentEvents.StartAsync(context);
        await sse.WriteEventAsync("metadata", WorkflowStore.ToJson(WorkflowStore.View(workflow)).ToJsonString(), cancellationToken: token);

        // The hub completing the subscription means the service is stopping: the stream closes too.
        stream.Forward(Frame, whenHubEnds: ("complete", "Stream closed"));
        if (workflow.RunCount > 0)
        {
            foreach (var watch in await WatchAsync(workflow, directory, caller, stream.Frames, token))
            {
                stream.Add(watch);
            }
        }

        await stream.PumpAsync(sse, DeliveryEvents.StreamHeartbeat(configuration), name => name == "complete");
    }

    /// <summary><c>closed</c> becomes the final <c>complete</c>; node updates and syncs pass as they are.</summary>
    private static (string Event, string Data)? Frame(HubMessage message)
    {
        var eventType = message.Data.TryGetProperty("event_type", out var type) ? type.GetString() : null;
        return eventType switch
        {
            DeliveryEvents.Closed => ("complete", "Stream closed"),
            DeliveryEvents.NodeUpdate or DeliveryEvents.WorkflowSync => (eventType, message.DataText),
            _ => null,
        };
    }

    /// <summary>One watch per deployed node (by name in its namespace), turning changes into <c>node_update</c>.</summary>
    private static async Task<IEnumerable<Task>> WatchAsync(WorkflowRow workflow, ClusterDirectory directory, Caller caller, ChannelWriter<(string, string)> frames, CancellationToken token)
    {
        KubernetesClient client;
        try
        {
            client = directory.Connect(await DeliveryClusters.ResolveAsync(directory, caller, workflow.ClusterId, token));
        }
        catch (ApiException)
        {
            return [];
        }

        var graph = workflow.Graph();
        var watches = new List<Task>();
        foreach (var node in graph.Nodes.Take(25))
        {
            if (ManifestRenderer.KindOf(node, []) is not { } kind || !Watched.TryGetValue(kind, out var type))
            {
                continue;
            }

            var data = ManifestRenderer.Effective(graph, node, kind);
            var name = ManifestRenderer.NameOf(node, data);
            var ns = data.StrOr("namespace", "default");
            watches.Add(WatchNodeAsync(client, type, ns, name, node, workflow.Id, frames, token));
        }

        return watches;
    }

    private static async Task WatchNodeAsync(
        KubernetesClient client, KubernetesResourceType type, string ns, string name, WorkflowNode node, Guid workflowId, ChannelWriter<(string, string)> frames, CancellationToken token)
    {
        string? last = null;
        string? resourceVersion = null;
        while (!token.IsCancellationRequested)
        {
            try
            {
                await foreach (var change in client.WatchAsync(type, ns, new WatchOptions { FieldSelector = $"metadata.name={name}", ResourceVersion = resourceVersion, TimeoutSeconds = 300 }, token))
                {
                    if (change.Type == "BOOKMARK")
                    {
                        resourceVersion = change.ResourceVersion;
                        continue;
                    }

                    resourceVersion = change.ResourceVersion ?? resourceVersion;
                    var status = change.Type == "DELETED"
                        ? new JsonObject { ["state"] = "error", ["message"] = $"{type.Kind} {ns}/{name} was deleted from the cluster" }
                        : ObjectStatus.NodeStatus(type.Kind!, change.Object);
                    var text = status.ToJsonString();
                    if (text == last)
                    {
                        continue;
                    }

                    last = text;
                    var frame = DeliveryEvents.WorkflowFrame(workflowId, DeliveryEvents.NodeUpdate, DeliveryEvents.NodeUpdateData(node.Id, node.Type, status), DateTimeOffset.UtcNow);
                    await frames.WriteAsync((DeliveryEvents.NodeUpdate, frame.ToJsonString()), token);
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (KubernetesApiException exception) when (exception.IsExpired)
            {
                resourceVersion = null;
            }
            catch (ApiException)
            {
                // The cluster went away for a moment: watch again shortly.
            }

            await Task.Delay(TimeSpan.FromSeconds(2), token).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }
}
