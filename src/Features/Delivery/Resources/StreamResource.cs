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
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        var token = stop.Token;
        var frames = Channel.CreateUnbounded<(string Event, string Data)>();
        var subscription = hub.SubscribeAsync(DeliveryEvents.ResourceTopic(resource.Id), token).GetAsyncEnumerator(token);
        var first = subscription.MoveNextAsync();
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

        var tasks = new List<Task>
        {
            ForwardAsync(subscription, first, frames.Writer, token),
            HeartbeatAsync(frames.Writer, TimeSpan.FromSeconds(Math.Max(1, configuration.GetValue("Delivery:Streams:HeartbeatSeconds", 15))), token),
        };
        if (resource.ClusterId is { } clusterId && DeliveryKinds.Find(resource.ApiVersion, resource.Kind) is { } type
            && await directory.FindVisibleAsync(clusterId.ToString(), caller, token) is { } cluster)
        {
            tasks.Add(WatchAsync(directory.Connect(cluster), type, resource, frames.Writer, token));
        }

        try
        {
            await foreach (var (name, data) in frames.Reader.ReadAllAsync(token))
            {
                if (name == ": heartbeat")
                {
                    await sse.WriteCommentAsync("heartbeat", token);
                    continue;
                }

                await sse.WriteEventAsync(name, data, cancellationToken: token);
                if (name == "complete")
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // The client went away.
        }
        finally
        {
            // Cancel, let the forwarders (one of which awaits the subscription) finish, then dispose the subscription:
            // disposing an async iterator while a MoveNextAsync is pending throws and aborts the response.
            await stop.CancelAsync();
            try
            {
                await Task.WhenAll(tasks);
            }
            catch (OperationCanceledException)
            {
                // Expected on the way out.
            }

            await subscription.DisposeAsync();
        }
    }

    private static async Task ForwardAsync(IAsyncEnumerator<HubMessage> subscription, ValueTask<bool> first, ChannelWriter<(string, string)> frames, CancellationToken token)
    {
        try
        {
            var next = first;
            while (await next)
            {
                await frames.WriteAsync(("status_update", subscription.Current.DataText), token);
                next = subscription.MoveNextAsync();
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // The stream ended.
        }
    }

    private static async Task HeartbeatAsync(ChannelWriter<(string, string)> frames, TimeSpan interval, CancellationToken token)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(token))
            {
                await frames.WriteAsync((": heartbeat", string.Empty), token);
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // The stream ended.
        }
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
