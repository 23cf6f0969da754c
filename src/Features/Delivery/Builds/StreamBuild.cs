using System.Text.Json;
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

namespace Capstan.Features.Delivery.Builds;

/// <summary>
/// <c>GET /v1/api/builds/{id}/stream</c> (seed 002, SSE, reference §10b): <c>metadata</c> (the build); a build that
/// already ended gets <c>complete {status}</c> at once. Otherwise StreamEvent frames: <c>log {stage, message, level}</c>
/// per line of the clone and build containers (read from the build's pod), <c>progress {status, current_stage,
/// progress}</c> as the build moves on, and finally <c>complete {final_image_ref, image_digest}</c>,
/// <c>failed {error_message, error_stage}</c> or <c>cancelled</c>, which end the stream. Heartbeats in between.
/// </summary>
public static class StreamBuild
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public sealed record Query(Guid Id) : IQuery<BuildRow>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, BuildRow>
    {
        public Task<BuildRow> Handle(Query query, CancellationToken cancellationToken) =>
            BuildRecords.GetOwnedAsync(db, query.Id, request.RequiredCaller.UserId, cancellationToken);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/builds/{id}/stream", async (Guid id, HttpContext context, IMediator mediator, EventHub hub, ClusterDirectory directory, IConfiguration configuration) =>
                {
                    var build = await mediator.Send(new Query(id), context.RequestAborted);
                    await StreamAsync(context, build, hub, directory, configuration);
                    return Results.Empty;
                })
                .RequirePermission(Permissions.DeliveryRead)
                .WithName("Delivery" + nameof(StreamBuild))
                .WithTags(DeliveryRoutes.Builds)
                .WithSummary("SSE stream for build logs")
                .Produces(200, contentType: "text/event-stream")
                .ProducesErrors(400, 401, 403, 404);
    }

    private static async Task StreamAsync(HttpContext context, BuildRow build, EventHub hub, ClusterDirectory directory, IConfiguration configuration)
    {
        await using var stream = new MergedEventStream(context.RequestAborted);
        var token = stream.Token;
        stream.Subscribe(hub, DeliveryEvents.BuildTopic(build.Id));
        var sse = await ServerSentEvents.StartAsync(context);
        await sse.WriteEventAsync("metadata", JsonSerializer.Serialize(BuildRecords.View(build), Json), cancellationToken: token);
        if (build.IsTerminal)
        {
            await sse.WriteEventAsync("complete", new JsonObject { ["status"] = build.Status }.ToJsonString(), cancellationToken: token);
            return;
        }

        stream.Forward(message => message.Data.TryGetProperty("event_type", out var type) && type.GetString() is { } eventType ? (eventType, message.DataText) : null);
        if (build.ClusterId is { } clusterId && (await directory.AllAsync(token)).FirstOrDefault(cluster => cluster.Id == clusterId) is { } found)
        {
            stream.Add(LogsAsync(directory.Connect(found), build, stream.Frames, token));
        }

        await stream.PumpAsync(sse, DeliveryEvents.StreamHeartbeat(configuration), name => name is "complete" or "failed" or "cancelled");
    }

    /// <summary>Follows the clone container's log, then the builder's, as each starts.</summary>
    private static async Task LogsAsync(KubernetesClient client, BuildRow build, ChannelWriter<(string, string)> frames, CancellationToken token)
    {
        try
        {
            foreach (var (container, stage) in new[] { (ImageBuilds.CloneContainer, "cloning"), (ImageBuilds.BuildContainer, "building") })
            {
                string? pod = null;
                while (pod is null)
                {
                    var pods = KubernetesClient.ItemsOf(await client.ListAsync(KubernetesResourceType.Pods, build.Namespace, new ListOptions { LabelSelector = $"job-name={build.JobName}" }, token));
                    pod = pods.Where(item => Started(item, container)).Select(item => NodeData.Text(item["metadata"]?["name"])).FirstOrDefault();
                    if (pod is null)
                    {
                        await Task.Delay(TimeSpan.FromSeconds(1), token);
                    }
                }

                try
                {
                    await foreach (var line in client.StreamPodLogsAsync(build.Namespace, pod, new PodLogOptions { Container = container }, token))
                    {
                        var level = line.Contains("error", StringComparison.OrdinalIgnoreCase) ? "error" : "info";
                        var frame = DeliveryEvents.Frame("build", build.Id, "log", new JsonObject { ["stage"] = stage, ["message"] = line, ["level"] = level }, DateTimeOffset.UtcNow);
                        await frames.WriteAsync(("log", frame.ToJsonString()), token);
                    }
                }
                catch (ApiException)
                {
                    // This container's log is not readable (any more): go on with the next.
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // The stream ended.
        }
        catch (ApiException)
        {
            // The cluster is not reachable: progress still arrives from the build tracker.
        }
    }

    private static bool Started(JsonObject pod, string container) =>
        new[] { "initContainerStatuses", "containerStatuses" }
            .SelectMany(list => (pod["status"]?[list] as JsonArray ?? []).OfType<JsonObject>())
            .Any(status => NodeData.Text(status["name"]) == container && (status["state"]?["running"] is not null || status["state"]?["terminated"] is not null));
}
