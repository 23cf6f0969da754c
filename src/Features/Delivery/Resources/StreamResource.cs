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

namespace Capstan.Features.Delivery.Resources;

/// <summary><c>GET /v1/api/resources/{id}/stream</c> (seed 002, SSE): <c>metadata</c> <c>{id, name, namespace, type,
/// status, spec}</c>, then <c>status_update</c> <c>{resource_id, type, status}</c> whenever the object's status changes —
/// watched live in its cluster, and from syncs — heartbeats, and <c>complete</c> when the object is deleted.</summary>
public static class StreamResource
{
    public sealed record Query(Guid Id) : IQuery<ResourceRow>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, ResourceRow>
    {
        public Task<ResourceRow> Handle(Query query, CancellationToken cancellationToken) =>
            TrackedResources.GetOwnedAsync(db, query.Id, request.RequiredCaller.UserId, cancellationToken);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/resources/{id}/stream", async (Guid id, HttpContext context, IMediator mediator, EventHub hub, ClusterDirectory directory, RequestContext request, IConfiguration configuration) =>
                {
                    var resource = await mediator.Send(new Query(id), context.RequestAborted);
                    await StreamAsync(context, resource, hub, directory, request.RequiredCaller, configuration);
                    return Results.Empty;
                })
                .RequirePermission(Permissions.DeliveryRead)
                .WithName("Delivery" + nameof(StreamResource))
                .WithTags(DeliveryRoutes.Resources)
                .WithSummary("SSE stream for resource status")
                .Produces(200, contentType: "text/event-stream")
                .ProducesErrors(400, 401, 403, 404);
    }

    private static async Task StreamAsync(HttpContext context, ResourceRow resource, EventHub hub, ClusterDirectory directory, Caller caller, IConfiguration configuration)
    {
        await using var stream = new MergedEventStream(context.RequestAborted);
        var token = stream.Token;
        stream.Subscribe(hub, DeliveryEvents.ResourceTopic(resource.Id));
        var sse = await ServerSentEvents.StartAsync(context);
        await sse.WriteEventAsync("metadata", new JsonObject
        {
            ["id"] = resource.Id.ToString(),
            ["name"] = resource.Name,
            ["namespace"] = resource.Namespace,
            ["type"] = resource.Kind,
            ["status"] = resource.Status,
            ["spec"] = JsonNode.Parse(resource.Spec),
        }.ToJsonString(), cancellationToken: token);

        stream.Forward(message => ("status_update", message.DataText));
        if (resource.ClusterId is { } clusterId && DeliveryKinds.Find(resource.ApiVersion, resource.Kind) is { } type
            && await directory.FindVisibleAsync(clusterId.ToString(), caller, token) is { } cluster)
        {
            stream.Add(WatchAsync(directory.Connect(cluster), type, resource, stream.Frames, token));
        }

        await stream.PumpAsync(sse, DeliveryEvents.StreamHeartbeat(configuration), name => name == "complete");
    }

    private static async Task WatchAsync(KubernetesClient client, KubernetesResourceType type, ResourceRow resource, ChannelWriter<(string, string)> frames, CancellationToken token)
    {
        var last = resource.Status;
        string? version = null;
        while (!token.IsCancellationRequested)
        {
            try
            {
                await foreach (var change in client.WatchAsync(type, type.Namespaced ? resource.Namespace : null, new WatchOptions { FieldSelector = $"metadata.name={resource.Name}", ResourceVersion = version, TimeoutSeconds = 300 }, token))
                {
                    version = change.ResourceVersion ?? version;
                    if (change.Type == "BOOKMARK")
                    {
                        continue;
                    }

                    var status = change.Type == "DELETED" ? "deleted" : ObjectStatus.ResourceStatus(resource.Kind, change.Object);
                    if (status != last)
                    {
                        last = status;
                        await frames.WriteAsync(("status_update", new JsonObject { ["resource_id"] = resource.Id.ToString(), ["type"] = resource.Kind, ["status"] = status }.ToJsonString()), token);
                    }

                    if (change.Type == "DELETED")
                    {
                        await frames.WriteAsync(("complete", $"{resource.Kind} {resource.Name} was deleted"), token);
                        return;
                    }
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (KubernetesApiException exception) when (exception.IsExpired)
            {
                version = null;
            }
            catch (ApiException)
            {
                // The cluster went away for a moment: watch again shortly.
            }

            await Task.Delay(TimeSpan.FromSeconds(2), token).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }
}
