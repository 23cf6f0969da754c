using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Delivery;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Delivery.Resources;

/// <summary><c>PATCH /v1/api/resources/{id}</c> (seed 002): the caller's own annotations of a tracked resource —
/// <c>userTags</c>, <c>userNotes</c>, <c>isFavorite</c>. Fields sent replace the stored ones, fields left out stay
/// (the upstream reset them); nothing in the cluster changes. Answers <c>{message, resource}</c>.</summary>
public static class UpdateResource
{
    public sealed record Body(List<string>? UserTags, string? UserNotes, bool? IsFavorite);

    public sealed record Command(Guid Id, List<string>? UserTags, string? UserNotes, bool? IsFavorite) : ICommand<Response>;

    public sealed record Response(string Message, ResourceView Resource);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Id).NotEmpty();
            RuleFor(command => command.UserTags).Must(tags => tags is null || (tags.Count <= 20 && tags.All(tag => tag?.Trim().Length is > 0 and <= 50)))
                .WithMessage("userTags: at most 20, each 1 to 50 characters");
            RuleFor(command => command.UserNotes).MaximumLength(5000);
            RuleFor(command => command).Must(command => command.UserTags is not null || command.UserNotes is not null || command.IsFavorite is not null)
                .WithMessage("Send userTags, userNotes or isFavorite").OverridePropertyName("body");
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit) : IRequestHandler<Command, Response>
    {
        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var userId = request.RequiredCaller.UserId;
            var resource = await TrackedResources.GetOwnedAsync(db, command.Id, userId, cancellationToken);
            await db.ExecuteAsync(
                """
                UPDATE delivery.resources SET user_tags = COALESCE(@Tags, user_tags), user_notes = COALESCE(@Notes, user_notes), is_favorite = COALESCE(@Favorite, is_favorite)
                WHERE id = @Id AND user_id = @UserId
                """,
                new { command.Id, UserId = userId, Tags = command.UserTags?.Select(tag => tag.Trim()).Distinct().ToArray(), Notes = command.UserNotes, Favorite = command.IsFavorite },
                cancellationToken);
            audit.Record("delivery.resource.update", "resource", resource.Id.ToString(), $"{resource.Kind} {resource.Namespace}/{resource.Name}", new { tags = command.UserTags?.Count, favorite = command.IsFavorite });
            return new Response("Resource updated successfully", TrackedResources.View(await TrackedResources.GetOwnedAsync(db, command.Id, userId, cancellationToken)));
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPatch("/v1/api/resources/{id}", async (Guid id, Body body, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id, body.UserTags, body.UserNotes, body.IsFavorite), cancellationToken)))
                .RequirePermission(Permissions.DeliveryEdit)
                .WithName("Delivery" + nameof(UpdateResource))
                .WithTags(DeliveryRoutes.Resources)
                .WithSummary("Update resource user fields")
                .ProducesErrors(400, 401, 403, 404);
    }
}
