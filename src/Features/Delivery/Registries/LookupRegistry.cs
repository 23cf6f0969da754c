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

namespace Capstan.Features.Delivery.Registries;

/// <summary><c>GET /v1/api/registries/lookup?image=</c> (seed 002, reference §11): which configured registry pulls
/// an image — its type from the image's host (Docker Hub for short names, ghcr.io, *.azurecr.io, ECR, GCR/Artifact
/// Registry, else custom), then the registry of that type whose URL names the host, else the default, else the
/// oldest. <c>{found: true, registry}</c> or <c>{found: false, registryType, message}</c>.</summary>
public static class LookupRegistry
{
    public sealed record Query(string? Image) : IQuery<Response>;

    public sealed record Response
    {
        public bool Found { get; init; }

        [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
        public RegistryView? Registry { get; init; }

        public string RegistryType { get; init; } = string.Empty;

        [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
        public string? Message { get; init; }
    }

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Image).NotEmpty().WithMessage("Image parameter is required").MaximumLength(512)
            .Must(image => image is null || !image.Any(char.IsWhiteSpace)).WithMessage("image must not contain spaces");
    }

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var image = query.Image!.Trim();
            var type = ContainerRegistries.TypeOf(image);
            if (ContainerRegistries.Pick(await ContainerRegistries.AllAsync(db, cancellationToken), image) is not { } picked)
            {
                return new Response { Found = false, RegistryType = type, Message = "No registry credentials configured for this image type" };
            }

            var registry = await db.QuerySingleAsync<RegistryView>($"SELECT {RegistryView.Columns} FROM delivery.registries WHERE id = @Id", new { picked.Id }, cancellationToken);
            return new Response { Found = true, Registry = registry, RegistryType = type };
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/registries/lookup", async (string? image, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(image), cancellationToken)))
                .RequirePermission(Permissions.DeliveryRead)
                .WithName("Delivery" + nameof(LookupRegistry))
                .WithTags(DeliveryRoutes.Registries)
                .WithSummary("Find registry for an image")
                .ProducesErrors(400, 401, 403);
    }
}
