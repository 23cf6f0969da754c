using System.Text.Json.Serialization;
using Capstan.Infrastructure.Audit;
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

namespace Capstan.Features.Fleet.Extensions;

/// <summary><c>POST /api/v1/extensions</c> (seed 004, OPERATOR): <c>{name ^[a-z0-9_-]+$, display_name, description,
/// category, version x.y.z, author?, license?, homepage_url?, icon_url?, tags?, dependencies?, scope?, is_official?}</c>
/// → 201 with the extension; a taken name is 409; an extension cannot depend on itself (400).</summary>
public static class CreateExtension
{
    public sealed record Command(
        [property: JsonPropertyName("name")] string? Name,
        [property: JsonPropertyName("display_name")] string? DisplayName,
        [property: JsonPropertyName("description")] string? Description,
        [property: JsonPropertyName("category")] string? Category,
        [property: JsonPropertyName("version")] string? Version,
        [property: JsonPropertyName("author")] string? Author,
        [property: JsonPropertyName("license")] string? License,
        [property: JsonPropertyName("homepage_url")] string? HomepageUrl,
        [property: JsonPropertyName("icon_url")] string? IconUrl,
        [property: JsonPropertyName("tags")] string[]? Tags,
        [property: JsonPropertyName("dependencies")] string[]? Dependencies,
        [property: JsonPropertyName("scope")] string? Scope,
        [property: JsonPropertyName("is_official")] bool? IsOfficial) : ICommand<ExtensionView>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Name).NotEmpty().MaximumLength(100).Matches(ExtensionRules.NamePattern).OverridePropertyName("name")
                .WithMessage("name must be lower-case letters, digits, '-' or '_'");
            RuleFor(command => command.DisplayName).NotEmpty().MaximumLength(100).OverridePropertyName("display_name");
            RuleFor(command => command.Description).NotEmpty().MaximumLength(1000).OverridePropertyName("description");
            RuleFor(command => command.Category).NotEmpty().MaximumLength(50).OverridePropertyName("category");
            RuleFor(command => command.Version).NotEmpty().Matches(ExtensionRules.VersionPattern).OverridePropertyName("version")
                .WithMessage("version must be semantic (major.minor.patch)");
            RuleFor(command => command.Author).MaximumLength(200).OverridePropertyName("author");
            RuleFor(command => command.License).MaximumLength(100).OverridePropertyName("license");
            RuleFor(command => command.HomepageUrl).Must(ExtensionRules.IsUrl).OverridePropertyName("homepage_url").WithMessage("homepage_url must be an http(s) URL");
            RuleFor(command => command.IconUrl).Must(ExtensionRules.IsUrl).OverridePropertyName("icon_url").WithMessage("icon_url must be an http(s) URL");
            RuleFor(command => command.Tags).Must(tags => tags is null || (tags.Length <= 50 && tags.All(tag => !string.IsNullOrWhiteSpace(tag) && tag.Length <= 50)))
                .OverridePropertyName("tags").WithMessage("tags: at most 50 non-empty tags of up to 50 characters");
            RuleFor(command => command.Dependencies)
                .Must(dependencies => dependencies is null || (dependencies.Length <= 100 && dependencies.All(name => name is not null && System.Text.RegularExpressions.Regex.IsMatch(name, ExtensionRules.NamePattern))))
                .OverridePropertyName("dependencies").WithMessage("dependencies are extension names (lower-case letters, digits, '-' or '_')")
                .Must((command, dependencies) => dependencies is null || !dependencies.Contains(command.Name, StringComparer.Ordinal))
                .OverridePropertyName("dependencies").WithMessage("an extension cannot depend on itself");
            RuleFor(command => command.Scope).Must(scope => FleetVocabulary.IsOneOf(scope, ExtensionRules.Scopes)).When(command => command.Scope is not null)
                .OverridePropertyName("scope").WithMessage($"scope must be one of: {string.Join(", ", ExtensionRules.Scopes)}");
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, TimeProvider clock) : IRequestHandler<Command, ExtensionView>
    {
        private const string Insert = """
            INSERT INTO fleet.extensions (id, name, display_name, description, category, version, author, license, homepage_url, icon_url, tags,
                                          dependencies, scope, is_official, published_by, created_at, updated_at)
            VALUES (@Id, @Name, @DisplayName, @Description, @Category, @Version, @Author, @License, @HomepageUrl, @IconUrl, @Tags,
                    @Dependencies, @Scope, @IsOfficial, @PublishedBy, @Now, @Now)
            ON CONFLICT (name) DO NOTHING
            """;

        private const string Select = $"SELECT {ExtensionRow.Columns} FROM fleet.extensions e WHERE e.id = @Id";

        public async Task<ExtensionView> Handle(Command command, CancellationToken cancellationToken)
        {
            var id = Guid.CreateVersion7();
            var name = command.Name!.Trim();
            var inserted = await db.ExecuteAsync(
                Insert,
                new
                {
                    Id = id,
                    Name = name,
                    DisplayName = command.DisplayName!.Trim(),
                    Description = command.Description!.Trim(),
                    Category = command.Category!.Trim(),
                    Version = command.Version!.Trim(),
                    command.Author,
                    command.License,
                    command.HomepageUrl,
                    command.IconUrl,
                    Tags = (command.Tags ?? []).Select(tag => tag.Trim()).Distinct().ToArray(),
                    Dependencies = (command.Dependencies ?? []).Distinct().ToArray(),
                    Scope = command.Scope?.Trim().ToUpperInvariant() ?? "PUBLIC",
                    IsOfficial = command.IsOfficial ?? false,
                    PublishedBy = request.RequiredCaller.UserId,
                    Now = clock.GetUtcNow().UtcDateTime,
                },
                cancellationToken);
            if (inserted == 0)
            {
                throw new ConflictException($"Extension '{name}' already exists");
            }

            audit.Record("extension.create", "extension", id.ToString(), name, new { command.Version, command.Category });
            return (await db.QuerySingleAsync<ExtensionRow>(Select, new { Id = id }, cancellationToken)).ToView();
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/extensions", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var extension = await mediator.Send(command, cancellationToken);
                    return TypedResults.Created($"/api/v1/extensions/{extension.Id}", extension);
                })
                .RequirePermission(Permissions.ExtensionEdit)
                .WithName(nameof(CreateExtension))
                .WithTags(FleetRoutes.Extensions)
                .WithSummary("Register a new extension")
                .ProducesErrors(400, 401, 403, 409);
    }
}
