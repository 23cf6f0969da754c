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

namespace Capstan.Features.Delivery.Resources;

/// <summary>
/// <c>GET /v1/api/resources/{id}/logs/stream</c> (seed 002, SSE, reference §10): a pod's log — <c>metadata</c>
/// <c>{pod, container, namespace, cluster}</c>, then one <c>log</c> event per line (RFC 3339 timestamp first): the last
/// <c>tail</c> lines (100, kept within 50–5000), then, with <c>follow</c> (default), new lines as they come; an
/// <c>error</c> event when the cluster refuses; <c>complete</c> when the log ends. <c>container</c> defaults to the
/// first; <c>sinceSeconds</c> limits the history. Pods only (else 400 <c>Only pods have logs</c>).
/// </summary>
public static class StreamPodLogs
{
    public sealed record Query(Guid Id, string? Container) : IQuery<Target>;

    public sealed record Target(ResourceRow Pod, string Container, RegisteredCluster Cluster);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.Id).NotEmpty();
            RuleFor(query => query.Container).MaximumLength(63);
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, ClusterDirectory directory) : IRequestHandler<Query, Target>
    {
        public async Task<Target> Handle(Query query, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var pod = await TrackedResources.GetOwnedAsync(db, query.Id, caller.UserId, cancellationToken);
            if (pod.Kind != "Pod")
            {
                throw new BadRequestException("Only pods have logs. This resource is not a pod.");
            }

            var containers = (JsonNode.Parse(pod.Spec)?["containers"] as JsonArray ?? []).Select(container => NodeData.Text(container?["name"])).OfType<string>().ToList();
            var container = query.Container ?? containers.FirstOrDefault() ?? throw new BadRequestException("The pod has no containers");
            if (containers.Count > 0 && !containers.Contains(container))
            {
                throw BadRequestException.ForField("container", $"Container '{container}' is not in pod {pod.Name} ({string.Join(", ", containers)})");
            }

            var cluster = pod.ClusterId is { } clusterId ? await directory.FindVisibleAsync(clusterId.ToString(), caller, cancellationToken) : null;
            return new Target(pod, container, cluster ?? throw new NotFoundException($"Cluster '{pod.ClusterName}' not found"));
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/resources/{id}/logs/stream", async (Guid id, string? container, bool? follow, int? tail, int? sinceSeconds, HttpContext context, IMediator mediator, ClusterDirectory directory) =>
                {
                    if (sinceSeconds is < 1)
                    {
                        throw BadRequestException.ForField("sinceSeconds", "sinceSeconds must be 1 or more");
                    }

                    var target = await mediator.Send(new Query(id, string.IsNullOrWhiteSpace(container) ? null : container.Trim()), context.RequestAborted);
                    await StreamAsync(context, directory.Connect(target.Cluster), target, follow ?? true, Math.Clamp(tail ?? 100, 50, 5000), sinceSeconds);
                    return Results.Empty;
                })
                .RequirePermission(Permissions.DeliveryRead)
                .WithName("Delivery" + nameof(StreamPodLogs))
                .WithTags(DeliveryRoutes.Resources)
                .WithSummary("SSE stream for pod logs")
                .Produces(200, contentType: "text/event-stream")
                .ProducesErrors(400, 401, 403, 404);
    }

    private static async Task StreamAsync(HttpContext context, KubernetesClient client, Target target, bool follow, int tail, int? sinceSeconds)
    {
        var token = context.RequestAborted;
        var sse = await ServerSentEvents.StartAsync(context);
        await sse.WriteEventAsync("metadata", new JsonObject
        {
            ["pod"] = target.Pod.Name,
            ["container"] = target.Container,
            ["namespace"] = target.Pod.Namespace,
            ["cluster"] = target.Pod.ClusterName,
        }.ToJsonString(), cancellationToken: token);
        var options = new PodLogOptions { Container = target.Container, TailLines = tail, SinceSeconds = sinceSeconds, Timestamps = true };
        try
        {
            if (follow)
            {
                await foreach (var line in client.StreamPodLogsAsync(target.Pod.Namespace, target.Pod.Name, options, token))
                {
                    await sse.WriteEventAsync("log", line, cancellationToken: token);
                }
            }
            else
            {
                var text = await client.GetPodLogsAsync(target.Pod.Namespace, target.Pod.Name, options, token);
                foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
                {
                    await sse.WriteEventAsync("log", line.TrimEnd('\r'), cancellationToken: token);
                }
            }

            await sse.WriteEventAsync("complete", "Log stream ended", cancellationToken: token);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // The client went away.
        }
        catch (ApiException exception)
        {
            await sse.WriteEventAsync("error", exception.Message, cancellationToken: token);
            await sse.WriteEventAsync("complete", "Log stream ended", cancellationToken: token);
        }
    }
}
