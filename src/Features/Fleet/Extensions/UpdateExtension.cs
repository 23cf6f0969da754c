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

/// <summary><c>PUT /api/v1/extensions/{id}</c> (seed 004, OPERATOR): changes the given metadata fields (the name stays;
/// <c>is_deprecated</c> may be set); 404 when unknown.</summary>
public static class UpdateExtension
{
    public sealed record Body(
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
        [property: JsonPropertyName("is_official")] bool? IsOfficial,
        [property: JsonPropertyName("is_deprecated")] bool? IsDeprecated);

    public sealed record Command(Guid Id, Body Body) : ICommand<ExtensionView>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Body.DisplayName).Must(value => value is null || (value.Trim().Length is > 0 and <= 100)).OverridePropertyName("display_name")
                .WithMessage("display_name must be 1 to 100 characters");
            RuleFor(command => command.Body.Description).Must(value => value is null || (value.Trim().Length is > 0 and <= 1000)).OverridePropertyName("description")
                .WithMessage("description must be 1 to 1000 characters");
            RuleFor(command => command.Body.Category).Must(value => value is null || (value.Trim().Length is > 0 and <= 50)).OverridePropertyName("category")
                .WithMessage("category must be 1 to 50 characters");
            RuleFor(command => command.Body.Version).Matches(ExtensionRules.VersionPattern).When(command => command.Body.Version is not null).OverridePropertyName("version")
                .WithMessage("version must be semantic (major.minor.patch)");
            RuleFor(command => command.Body.HomepageUrl).Must(ExtensionRules.IsUrl).OverridePropertyName("homepage_url").WithMessage("homepage_url must be an http(s) URL");
            RuleFor(command => command.Body.IconUrl).Must(ExtensionRules.IsUrl).OverridePropertyName("icon_url").WithMessage("icon_url must be an http(s) URL");
            RuleFor(command => command.Body.Tags).Must(tags => tags is null || (tags.Length <= 50 && tags.All(tag => !string.IsNullOrWhiteSpace(tag) && tag.Length <= 50)))
                .OverridePropertyName("tags").WithMessage("tags: at most 50 non-empty tags of up to 50 characters");
            RuleFor(command => command.Body.Dependencies)
                .Must(dependencies => dependencies is null || (dependencies.Length <= 100 && dependencies.All(name => name is not null && System.Text.RegularExpressions.Regex.IsMatch(name, ExtensionRules.NamePattern))))
                .OverridePropertyName("dependencies").WithMessage("dependencies are extension names (lower-case letters, digits, '-' or '_')");
            RuleFor(command => command.Body.Scope).Must(scope => FleetVocabulary.IsOneOf(scope, ExtensionRules.Scopes)).When(command => command.Body.Scope is not null)
                .OverridePropertyName("scope").WithMessage($"scope must be one of: {string.Join(", ", ExtensionRules.Scopes)}");
        }
    }

    internal sealed class Handler(DbSession db, AuditTrail audit, TimeProvider clock) : IRequestHandler<Command, ExtensionView>
    {
        private const string Update = """
            UPDATE fleet.extensions SET
                display_name = COALESCE(@DisplayName, display_name), description = COALESCE(@Description, description),
                category = COALESCE(@Category, category), version = COALESCE(@Version, version), author = COALESCE(@Author, author),
                license = COALESCE(@License, license), homepage_url = COALESCE(@HomepageUrl, homepage_url), icon_url = COALESCE(@IconUrl, icon_url),
                tags = COALESCE(@Tags, tags), dependencies = COALESCE(@Dependencies, dependencies), scope = COALESCE(@Scope, scope),
                is_official = COALESCE(@IsOfficial, is_official), is_deprecated = COALESCE(@IsDeprecated, is_deprecated), updated_at = @Now
            WHERE id = @Id
            RETURNING name
            """;

        private const string Select = $"SELECT {ExtensionRow.Columns} FROM fleet.extensions e WHERE e.id = @Id";

        public async Task<ExtensionView> Handle(Command command, CancellationToken cancellationToken)
        {
            var body = command.Body;
            var name = await db.ExecuteScalarAsync<string>(
                Update,
                new
                {
                    command.Id,
                    DisplayName = body.DisplayName?.Trim(),
                    Description = body.Description?.Trim(),
                    Category = body.Category?.Trim(),
                    Version = body.Version?.Trim(),
                    body.Author,
                    body.License,
                    body.HomepageUrl,
                    body.IconUrl,
                    Tags = body.Tags?.Select(tag => tag.Trim()).Distinct().ToArray(),
                    Dependencies = body.Dependencies?.Distinct().ToArray(),
                    Scope = body.Scope?.Trim().ToUpperInvariant(),
                    body.IsOfficial,
                    body.IsDeprecated,
                    Now = clock.GetUtcNow().UtcDateTime,
                },
                cancellationToken) ?? throw new NotFoundException($"Extension '{command.Id}' not found");
            if (body.Dependencies?.Contains(name, StringComparer.Ordinal) == true)
            {
                throw BadRequestException.ForField("dependencies", "an extension cannot depend on itself");
            }

            audit.Record("extension.update", "extension", command.Id.ToString(), name, new { body.Version, body.IsDeprecated });
            return (await db.QuerySingleAsync<ExtensionRow>(Select, new { command.Id }, cancellationToken)).ToView();
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPut("/api/v1/extensions/{id}", async (Guid id, Body body, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id, body), cancellationToken)))
                .RequirePermission(Permissions.ExtensionEdit)
                .WithName(nameof(UpdateExtension))
                .WithTags(FleetRoutes.Extensions)
                .WithSummary("Update extension metadata")
                .ProducesErrors(400, 401, 403, 404);
    }
}
