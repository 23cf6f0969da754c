using System.Text.Json;
using System.Text.Json.Nodes;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Delivery;
using Capstan.Infrastructure.Events;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;

namespace Capstan.Features.Delivery.Imports;

/// <summary><c>GET /v1/api/import/{id}/stream</c> (seed 002, SSE, reference §13): <c>metadata</c> (the session); a
/// finished session then gets <c>complete</c> (its analysis) or <c>failed {error}</c> at once; a running one StreamEvent
/// frames <c>progress {status, current_stage, progress}</c> and <c>log {stage, message, level}</c> until
/// <c>complete {analysis}</c> or <c>failed {error}</c>, with heartbeats in between.</summary>
public static class StreamImport
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public sealed record Query(Guid Id) : IQuery<ImportSessionRow>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, ImportSessionRow>
    {
        public Task<ImportSessionRow> Handle(Query query, CancellationToken cancellationToken) =>
            ImportSessions.GetOwnedAsync(db, query.Id, request.RequiredCaller.UserId, cancellationToken);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/import/{id}/stream", async (Guid id, HttpContext context, IMediator mediator, EventHub hub, IConfiguration configuration) =>
                {
                    var token = context.RequestAborted;
                    await mediator.Send(new Query(id), token);

                    // Subscribe, then read the session again: nothing that happens in between is lost.
                    using var stop = CancellationTokenSource.CreateLinkedTokenSource(token);
                    var subscription = hub.SubscribeAsync(DeliveryEvents.ImportTopic(id), stop.Token).GetAsyncEnumerator(stop.Token);
                    var next = subscription.MoveNextAsync().AsTask();
                    try
                    {
                        var session = await mediator.Send(new Query(id), token);
                        var sse = await ServerSentEvents.StartAsync(context);
                        await sse.WriteEventAsync("metadata", JsonSerializer.Serialize(ImportSessions.View(session), Json), cancellationToken: token);
                        if (session.IsTerminal)
                        {
                            await WriteEndAsync(sse, session, token);
                            return Results.Empty;
                        }

                        var heartbeat = DeliveryEvents.StreamHeartbeat(configuration);
                        try
                        {
                            while (true)
                            {
                                var tick = Task.Delay(heartbeat, token);
                                var ready = await Task.WhenAny(next, tick);
                                if (ready == tick)
                                {
                                    await sse.WriteCommentAsync("heartbeat", token);
                                    continue;
                                }

                                if (!await next)
                                {
                                    break;
                                }

                                var message = subscription.Current;
                                var eventType = message.Data.TryGetProperty("event_type", out var type) ? type.GetString() ?? "log" : "log";
                                await sse.WriteEventAsync(eventType, message.DataText, cancellationToken: token);
                                if (eventType is "complete" or "failed")
                                {
                                    break;
                                }

                                next = subscription.MoveNextAsync().AsTask();
                            }
                        }
                        catch (OperationCanceledException) when (token.IsCancellationRequested)
                        {
                            // The client went away.
                        }

                        return Results.Empty;
                    }
                    finally
                    {
                        // Disposing the subscription while a read is pending would throw and abort the response: cancel
                        // the read and let it end first.
                        await stop.CancelAsync();
                        try
                        {
                            await next;
                        }
                        catch (OperationCanceledException)
                        {
                            // Expected.
                        }

                        await subscription.DisposeAsync();
                    }
                })
                .RequirePermission(Permissions.DeliveryRead)
                .WithName("Delivery" + nameof(StreamImport))
                .WithTags(DeliveryRoutes.Import)
                .WithSummary("SSE stream for import progress")
                .Produces(200, contentType: "text/event-stream")
                .ProducesErrors(400, 401, 403, 404);
    }

    private static Task WriteEndAsync(ServerSentEvents sse, ImportSessionRow session, CancellationToken token) =>
        session.Status == "completed"
            ? sse.WriteEventAsync("complete", session.Analysis ?? "{}", cancellationToken: token)
            : sse.WriteEventAsync("failed", new JsonObject { ["error"] = session.ErrorMessage, ["stage"] = session.ErrorStage }.ToJsonString(), cancellationToken: token);
}
