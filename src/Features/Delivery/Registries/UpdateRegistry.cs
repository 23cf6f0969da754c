using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Crypto;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Delivery;
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

namespace Capstan.Features.Delivery.Registries;

/// <summary><c>PUT /v1/api/admin/registries/{id}</c> (seed 002, admin): <c>{name?, registryUrl?, credentials?}</c>;
/// new credentials replace the old ones whole and are checked for the registry's type. Nothing sent is a 400
/// <c>No updates provided</c>; a taken name a 409. Changing the URL or login resets the status to unknown. Answers
/// <c>{message, registry}</c>.</summary>
public static class UpdateRegistry
{
    public sealed record Body(string? Name, string? RegistryUrl, RegistryCredentials? Credentials);

    public sealed record Command(Guid Id, string? Name, string? RegistryUrl, RegistryCredentials? Credentials) : ICommand<Response>;

    public sealed record Response(string Message, RegistryView Registry);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Id).NotEmpty();
            RuleFor(command => command.Name).MaximumLength(100).Matches("^[A-Za-z0-9][A-Za-z0-9._ -]*$").When(command => command.Name is not null)
                .WithMessage("name may contain letters, digits, '.', '_', '-' and spaces");
            RuleFor(command => command.RegistryUrl).MaximumLength(500)
                .Must(url => string.IsNullOrWhiteSpace(url) || ContainerRegistries.UrlHost(url) is not null).WithMessage("registryUrl is not a URL");
            RuleFor(command => command).Must(command => command.Name is not null || command.RegistryUrl is not null || command.Credentials is not null)
                .WithMessage("No updates provided").OverridePropertyName("body");
        }
    }

    internal sealed class Handler(DbSession db, EnvelopeCipher cipher, AuditTrail audit) : IRequestHandler<Command, Response>
    {
        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var registry = await db.QuerySingleOrDefaultAsync<RegistryRecord>(
                "SELECT id, name, registry_type, registry_url, is_default, credentials FROM delivery.registries WHERE id = @Id FOR UPDATE",
                new { command.Id },
                cancellationToken) ?? throw new NotFoundException("Registry not found");
            var name = command.Name?.Trim();
            if (name is not null && await db.ExecuteScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM delivery.registries WHERE lower(name) = lower(@Name) AND id <> @Id)", new { Name = name, command.Id }, cancellationToken))
            {
                throw new ConflictException($"A registry named '{name}' already exists");
            }

            var url = command.RegistryUrl?.Trim() ?? registry.RegistryUrl;
            var credentials = command.Credentials ?? RegistryCredentials.Open(cipher, registry.Id, registry.Credentials);
            if (credentials.Missing(registry.RegistryType, url) is { Count: > 0 } missing)
            {
                throw new BadRequestException($"{missing[0]} is required for a {registry.RegistryType} registry")
                {
                    Details = missing.ToDictionary(field => field == "registryUrl" ? field : $"credentials.{field}", field => new[] { $"{field} is required for a {registry.RegistryType} registry" }),
                };
            }

            var connectionChanged = command.Credentials is not null || (command.RegistryUrl is not null && url != registry.RegistryUrl);
            await db.ExecuteAsync(
                """
                UPDATE delivery.registries SET name = COALESCE(@Name, name), registry_url = @Url, preview_url = @Preview, credentials = @Credentials,
                    status = CASE WHEN @Reset THEN 'unknown' ELSE status END, last_error = CASE WHEN @Reset THEN NULL ELSE last_error END, updated_at = now()
                WHERE id = @Id
                """,
                new
                {
                    command.Id,
                    Name = name,
                    Url = url,
                    Preview = ContainerRegistries.Preview(registry.RegistryType, url, credentials),
                    Credentials = command.Credentials is null ? registry.Credentials : credentials.Seal(cipher, registry.Id),
                    Reset = connectionChanged,
                },
                cancellationToken);
            audit.Record("delivery.registry.update", "registry", registry.Id.ToString(), name ?? registry.Name, new { renamed = name is not null, url_changed = command.RegistryUrl is not null, credentials_replaced = command.Credentials is not null });
            return new Response("Registry updated successfully", await db.QuerySingleAsync<RegistryView>($"SELECT {RegistryView.Columns} FROM delivery.registries WHERE id = @Id", new { command.Id }, cancellationToken));
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPut("/v1/api/admin/registries/{id}", async (Guid id, Body body, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id, body.Name, body.RegistryUrl, body.Credentials), cancellationToken)))
                .RequirePermission(Permissions.DeliveryAdmin)
                .WithName("Delivery" + nameof(UpdateRegistry))
                .WithTags(DeliveryRoutes.Registries)
                .WithSummary("Update a registry")
                .ProducesErrors(400, 401, 403, 404, 409);
    }
}
