using System.Text;
using Capstan.Features.Fleet.Deployments;
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

namespace Capstan.Features.Fleet.Templates;

/// <summary><c>POST /api/v1/templates</c> (seed 004): <c>{name, slug, category, description, yamlContent,
/// extensions?, providerRecommendations?, isOfficial?}</c> → 201. The YAML is checked like a deployment's (400 with the
/// line); extensions default to those the YAML declares; only an administrator may mark a template official (others'
/// <c>isOfficial</c> is ignored); a taken slug is a 409.</summary>
public static class CreateTemplate
{
    public sealed record Command(
        string? Name, string? Slug, string? Category, string? Description, string? YamlContent, string[]? Extensions, string[]? ProviderRecommendations, bool? IsOfficial)
        : ICommand<TemplateView>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Name).NotEmpty().MaximumLength(128);
            RuleFor(command => command.Slug).NotEmpty().MaximumLength(128).Matches(FleetVocabulary.NamePattern)
                .WithMessage("slug must be lower-case letters, digits and inner dashes");
            RuleFor(command => command.Category).NotEmpty().MaximumLength(64);
            RuleFor(command => command.Description).MaximumLength(1024);
            RuleFor(command => command.YamlContent).Cascade(CascadeMode.Stop).NotEmpty().Must(yaml => Encoding.UTF8.GetByteCount(yaml!) <= DeploymentConfig.MaxBytes)
                .WithMessage("yamlContent must be at most 64 KiB");
            RuleFor(command => command.Extensions).Must(extensions => extensions!.Length <= 200 && extensions.All(name => name is { Length: > 0 and <= 128 }))
                .When(command => command.Extensions is not null).WithMessage("extensions must be at most 200 names");
            RuleFor(command => command.ProviderRecommendations).Must(providers => providers!.All(provider => FleetVocabulary.IsOneOf(provider, FleetVocabulary.DeploymentProviders)))
                .When(command => command.ProviderRecommendations is not null)
                .WithMessage($"providerRecommendations must list providers of: {string.Join(", ", FleetVocabulary.DeploymentProviders)}");
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, TimeProvider clock) : IRequestHandler<Command, TemplateView>
    {
        private const string Taken = "SELECT EXISTS (SELECT 1 FROM fleet.deployment_templates WHERE slug = @Slug)";

        private const string Insert = $"""
            INSERT INTO fleet.deployment_templates AS t
                (id, name, slug, category, description, yaml_content, extensions, provider_recommendations, is_official, created_by, created_at, updated_at)
            VALUES (@Id, @Name, @Slug, @Category, @Description, @YamlContent, @Extensions, @Providers, @IsOfficial, @CreatedBy, @Now, @Now)
            RETURNING {TemplateColumns.All}
            """;

        public async Task<TemplateView> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var summary = DeploymentConfig.Check(command.YamlContent!, "yamlContent");
            var slug = command.Slug!.Trim();
            if (await db.ExecuteScalarAsync<bool>(Taken, new { Slug = slug }, cancellationToken))
            {
                throw new ConflictException($"Template with slug '{slug}' already exists");
            }

            var template = await db.QuerySingleAsync<TemplateView>(
                Insert,
                new
                {
                    Id = Guid.CreateVersion7(),
                    Name = command.Name!.Trim(),
                    Slug = slug,
                    Category = command.Category!.Trim(),
                    Description = command.Description ?? string.Empty,
                    command.YamlContent,
                    Extensions = command.Extensions?.Select(name => name.Trim()).Distinct().ToArray() ?? summary.Extensions,
                    Providers = (command.ProviderRecommendations ?? []).Select(provider => provider.Trim().ToLowerInvariant()).Distinct().ToArray(),
                    IsOfficial = caller.IsAdmin && command.IsOfficial == true,
                    CreatedBy = caller.UserId,
                    Now = clock.GetUtcNow().UtcDateTime,
                },
                cancellationToken);
            audit.Record("template.create", "template", template.Id.ToString(), template.Slug, new { template.Category, template.IsOfficial });
            return template;
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/templates", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var template = await mediator.Send(command, cancellationToken);
                    return TypedResults.Created($"/api/v1/templates/{template.Id}", template);
                })
                .RequirePermission(Permissions.TemplateCreate)
                .WithName(nameof(CreateTemplate))
                .WithTags(FleetRoutes.Templates)
                .WithSummary("Create a deployment template")
                .ProducesErrors(400, 401, 403, 409);
    }
}
