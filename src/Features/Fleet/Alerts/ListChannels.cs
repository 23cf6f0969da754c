using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Fleet.Alerts;

/// <summary><c>GET /api/v1/alerts/channels</c> (seed 004; shadowed in the upstream, served here): every notification
/// channel by name, optionally of one <c>type</c>, configurations masked.</summary>
public static class ListChannels
{
    public sealed record Query(string? Type) : IQuery<Response>;

    public sealed record Response(IReadOnlyList<ChannelView> Channels, IReadOnlyList<ChannelView> Data, int Total);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() =>
            RuleFor(query => query.Type).Must(type => FleetVocabulary.IsOneOf(type, FleetVocabulary.ChannelTypes)).When(query => query.Type is not null)
                .WithMessage($"type must be one of: {string.Join(", ", FleetVocabulary.ChannelTypes)}");
    }

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, Response>
    {
        private const string Select = $"""
            SELECT {ChannelRow.Columns} FROM fleet.notification_channels c
            WHERE (@Type::text IS NULL OR c.type = @Type)
            ORDER BY c.name, c.id
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var channels = (await db.QueryAsync<ChannelRow>(Select, new { Type = query.Type?.Trim().ToUpperInvariant() }, cancellationToken)).Select(row => row.ToView()).ToList();
            return new Response(channels, channels, channels.Count);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/alerts/channels", async (string? type, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(type), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(ListChannels))
                .WithTags(FleetRoutes.Channels)
                .WithSummary("List notification channels")
                .ProducesErrors(400, 401, 403);
    }
}
