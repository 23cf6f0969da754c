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

/// <summary><c>POST /v1/api/admin/registries</c> (seed 002, admin): <c>{name, registryType, registryUrl?, credentials,
/// isDefault?}</c> → 201 <c>{message, registry}</c>. The credentials each type needs are checked (Docker Hub/GHCR
/// username+password, ECR keys+region+URL, GCR service-account JSON, ACR URL+client id+secret, custom URL+username+
/// password) and sealed; the login is then tested against the registry's <c>/v2/</c> in the background. Names are
/// unique (409); a default replaces the previous default of its type.</summary>
public static class CreateRegistry
{
    public sealed record Command(string? Name, string? RegistryType, string? RegistryUrl, RegistryCredentials? Credentials, bool? IsDefault) : ICommand<Response>;

    public sealed record Response(string Message, RegistryView Registry);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Name).NotEmpty().MaximumLength(100).Matches("^[A-Za-z0-9][A-Za-z0-9._ -]*$").WithMessage("name may contain letters, digits, '.', '_', '-' and spaces");
            RuleFor(command => command.RegistryType).Must(type => type is not null && ContainerRegistries.Types.Contains(type))
                .WithMessage($"registryType must be one of: {string.Join(", ", ContainerRegistries.Types)}");
            RuleFor(command => command.RegistryUrl).MaximumLength(500)
                .Must(url => string.IsNullOrWhiteSpace(url) || ContainerRegistries.UrlHost(url) is not null).WithMessage("registryUrl is not a URL");
            RuleFor(command => command.Credentials).NotNull().WithMessage("credentials are required");
            RuleFor(command => command).Custom((command, context) =>
            {
                if (command.Credentials is { } credentials && command.RegistryType is { } type && ContainerRegistries.Types.Contains(type))
                {
                    foreach (var field in credentials.Missing(type, command.RegistryUrl))
                    {
                        context.AddFailure(field == "registryUrl" ? field : $"credentials.{field}", $"{field} is required for a {type} registry");
                    }
                }
            });
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, EnvelopeCipher cipher, AuditTrail audit) : IRequestHandler<Command, Response>
    {
        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var name = command.Name!.Trim();
            if (await db.ExecuteScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM delivery.registries WHERE lower(name) = lower(@Name))", new { Name = name }, cancellationToken))
            {
                throw new ConflictException($"A registry named '{name}' already exists");
            }

            var id = Guid.CreateVersion7();
            var type = command.RegistryType!;
            if (command.IsDefault == true)
            {
                await db.ExecuteAsync("UPDATE delivery.registries SET is_default = false, updated_at = now() WHERE registry_type = @Type AND is_default", new { Type = type }, cancellationToken);
            }

            await db.ExecuteAsync(
                """
                INSERT INTO delivery.registries (id, name, registry_type, registry_url, preview_url, credentials, status, is_default, created_by, created_at, updated_at)
                VALUES (@Id, @Name, @Type, @Url, @Preview, @Credentials, 'unknown', @IsDefault, @By, now(), now())
                """,
                new
                {
                    Id = id,
                    Name = name,
                    Type = type,
                    Url = command.RegistryUrl?.Trim() ?? string.Empty,
                    Preview = ContainerRegistries.Preview(type, command.RegistryUrl, command.Credentials!),
                    Credentials = command.Credentials!.Seal(cipher, id),
                    IsDefault = command.IsDefault == true,
                    By = request.RequiredCaller.UserId,
                },
                cancellationToken);
            audit.Record("delivery.registry.create", "registry", id.ToString(), name, new { type, url = command.RegistryUrl });
            var registry = await db.QuerySingleAsync<RegistryView>($"SELECT {RegistryView.Columns} FROM delivery.registries WHERE id = @Id", new { Id = id }, cancellationToken);
            return new Response("Registry created successfully", registry);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/v1/api/admin/registries", async (Command command, IMediator mediator, IServiceProvider services, CancellationToken cancellationToken) =>
                {
                    var created = await mediator.Send(command with { Name = command.Name?.Trim(), RegistryType = command.RegistryType?.Trim().ToLowerInvariant() }, cancellationToken);
                    // Committed: test the login in the background, as the upstream does.
                    _ = Infrastructure.Background.BackgroundWork.Start(services, "registry connection test", (scope, token) => RegistryProbe.TestAndRecordAsync(scope, created.Registry.Id, token));
                    return TypedResults.Created($"/v1/api/registries/{created.Registry.Id}", created);
                })
                .RequirePermission(Permissions.DeliveryAdmin)
                .WithName("Delivery" + nameof(CreateRegistry))
                .WithTags(DeliveryRoutes.Registries)
                .WithSummary("Create a registry")
                .ProducesErrors(400, 401, 403, 409);
    }
}
