using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
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

/// <summary><c>GET /api/v1/alerts/channels/{id}</c> (seed 004): one channel, configuration masked; 404.</summary>
public static class GetChannel
{
    public sealed record Query(Guid Id) : IQuery<ChannelView>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, ChannelView>
    {
        private const string Select = $"SELECT {ChannelRow.Columns} FROM fleet.notification_channels c WHERE c.id = @Id";

        public async Task<ChannelView> Handle(Query query, CancellationToken cancellationToken) =>
            (await db.QuerySingleOrDefaultAsync<ChannelRow>(Select, new { query.Id }, cancellationToken) ?? throw new NotFoundException("Notification channel not found")).ToView();
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/alerts/channels/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetChannel))
                .WithTags(FleetRoutes.Channels)
                .WithSummary("Notification channel detail")
                .ProducesErrors(400, 401, 403, 404);
    }
}
