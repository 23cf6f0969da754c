using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
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

namespace Capstan.Features.Delivery.Catalog;

/// <summary><c>GET /v1/api/templates</c> (seed 002, reference §11): the twelve core node templates (data, in a stable
/// order) followed by the node types of the plugins the caller enabled (<c>isPlugin</c>, <c>pluginId</c>; parameters
/// from the plugin's fields). <c>?category=</c> filters. A node made from a template has <c>type = name</c> and
/// <c>data.templateId = id</c>.</summary>
public static class ListTemplates
{
    public sealed record Query(string? Category) : IQuery<Response>;

    public sealed record Response(IReadOnlyList<TemplateView> Templates);

    public sealed record TemplateView
    {
        public string Id { get; init; } = string.Empty;

        public string Name { get; init; } = string.Empty;

        public string DisplayName { get; init; } = string.Empty;

        public string Category { get; init; } = string.Empty;

        public string Description { get; init; } = string.Empty;

        public string Icon { get; init; } = string.Empty;

        public string Version { get; init; } = string.Empty;

        public IReadOnlyList<string> Tags { get; init; } = [];

        public string UsageFrequency { get; init; } = string.Empty;

        public string Difficulty { get; init; } = string.Empty;

        public IReadOnlyList<string> Dependencies { get; init; } = [];

        public JsonNode? Parameters { get; init; }

        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
        public bool IsPlugin { get; init; }

        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public string? PluginId { get; init; }
    }

    public sealed class TemplateRow
    {
        public string Id { get; init; } = string.Empty;

        public string Name { get; init; } = string.Empty;

        public string DisplayName { get; init; } = string.Empty;

        public string Category { get; init; } = string.Empty;

        public string Description { get; init; } = string.Empty;

        public string Icon { get; init; } = string.Empty;

        public string Version { get; init; } = string.Empty;

        public string[] Tags { get; init; } = [];

        public string UsageFrequency { get; init; } = string.Empty;

        public string Difficulty { get; init; } = string.Empty;

        public string[] Dependencies { get; init; } = [];

        public string Parameters { get; init; } = "[]";
    }

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Category).MaximumLength(50);
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var core = await db.QueryAsync<TemplateRow>(
                """
                SELECT id, name, display_name, category, description, icon, version, tags, usage_frequency, difficulty, dependencies, parameters::text AS parameters
                FROM delivery.templates ORDER BY position
                """,
                null,
                cancellationToken);
            var plugins = await db.QueryAsync<PluginCatalog.ViewRow>(
                $"SELECT {PluginCatalog.Columns} FROM {PluginCatalog.From} WHERE u.status = 'enabled' ORDER BY lower(p.display_name), p.id",
                new { request.RequiredCaller.UserId },
                cancellationToken);
            var templates = core.Select(row => new TemplateView
            {
                Id = row.Id,
                Name = row.Name,
                DisplayName = row.DisplayName,
                Category = row.Category,
                Description = row.Description,
                Icon = row.Icon,
                Version = row.Version,
                Tags = row.Tags,
                UsageFrequency = row.UsageFrequency,
                Difficulty = row.Difficulty,
                Dependencies = row.Dependencies,
                Parameters = JsonNode.Parse(row.Parameters),
            }).Concat(plugins.SelectMany(PluginTemplates));
            return new Response([.. templates.Where(template => query.Category is null || template.Category == query.Category)]);
        }

        private static IEnumerable<TemplateView> PluginTemplates(PluginCatalog.ViewRow plugin)
        {
            foreach (var type in (JsonNode.Parse(plugin.NodeTypes) as JsonArray ?? []).OfType<JsonObject>().Select(item => new NodeData(item)))
            {
                if (type.Str("name") is not { } name)
                {
                    continue;
                }

                var parameters = new JsonArray();
                foreach (var field in (type.Arr("fields") ?? []).OfType<JsonObject>().Select(item => new NodeData(item)))
                {
                    var parameter = new JsonObject
                    {
                        ["name"] = field.Str("id"),
                        ["label"] = field.Str("label") ?? field.Str("id"),
                        ["description"] = field.Str("placeholder") ?? string.Empty,
                        ["type"] = field.StrOr("type", "string"),
                        ["required"] = field.Bool("required") == true,
                    };
                    if (field["default"] is { } defaultValue)
                    {
                        parameter["default"] = defaultValue.DeepClone();
                    }

                    if (field.Arr("options") is { Count: > 0 } options)
                    {
                        parameter["options"] = new JsonArray([.. options.Select(option => (JsonNode)new JsonObject { ["value"] = option?.DeepClone(), ["label"] = option?.DeepClone() })]);
                    }

                    parameters.Add(parameter);
                }

                var category = type.Str("category") ?? plugin.Category;
                yield return new TemplateView
                {
                    Id = name,
                    Name = name,
                    DisplayName = type.Str("displayName") ?? name,
                    Category = category,
                    Description = type.Str("description") ?? plugin.Description,
                    Icon = "Puzzle",
                    Version = "1.0.0",
                    Tags = ["plugin", category, plugin.Name],
                    UsageFrequency = "medium",
                    Difficulty = "medium",
                    Dependencies = [],
                    Parameters = parameters,
                    IsPlugin = true,
                    PluginId = plugin.Id,
                };
            }
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/templates", async (string? category, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(string.IsNullOrWhiteSpace(category) ? null : category.Trim()), cancellationToken)))
                .RequirePermission(Permissions.DeliveryRead)
                .WithName("Delivery" + nameof(ListTemplates))
                .WithTags(DeliveryRoutes.Catalog)
                .WithSummary("Get available resource templates")
                .ProducesErrors(400, 401, 403);
    }
}
