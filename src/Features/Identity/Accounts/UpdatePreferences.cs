using System.Text.Json;
using System.Text.Json.Nodes;
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
using Microsoft.Extensions.Configuration;

namespace Capstan.Features.Identity.Accounts;

/// <summary>
/// <c>POST /api/v1/user/preferences</c> (seed 000, Gyre §10): <c>{theme?, notifications?, onboarding?}</c> checked
/// against Gyre's schema (unknown keys are dropped, as zod does; every problem is named in <c>details</c> by its path),
/// then merged into the stored preferences as an RFC 7386 merge patch (nested objects merge, <c>null</c> deletes) →
/// <c>{success: true, preferences}</c>. At most 30 changes a minute per user.
/// </summary>
public static class UpdatePreferences
{
    public sealed record Command(JsonElement Body) : ICommand<Response>;

    public sealed record Response(bool Success, JsonObject Preferences);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() =>
            RuleFor(command => command.Body).Custom((body, context) =>
            {
                foreach (var (path, message) in Schema.Check(body, out _))
                {
                    context.AddFailure(path, message);
                }
            });
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, RateLimiter rateLimiter, IConfiguration configuration, TimeProvider clock)
        : IRequestHandler<Command, Response>
    {
        private const string Load = "SELECT preferences::text FROM identity.users WHERE id = @UserId FOR UPDATE";

        private const string Save = "UPDATE identity.users SET preferences = CAST(@Preferences AS jsonb), updated_at = @Now WHERE id = @UserId";

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var limit = new RateLimitRule(configuration.GetValue("Identity:PreferencesRateLimit:PermitPerMinute", 30), TimeSpan.FromMinutes(1));
            await rateLimiter.EnforceAsync($"preferences:{caller.UserId}", limit, cancellationToken);

            Schema.Check(command.Body, out var patch);
            var stored = await db.ExecuteScalarAsync<string?>(Load, new { caller.UserId }, cancellationToken) ?? throw new NotFoundException("User not found");
            var merged = MergePatch(JsonNode.Parse(stored), patch) as JsonObject ?? [];
            await db.ExecuteAsync(Save, new { Preferences = merged.ToJsonString(), caller.UserId, Now = clock.GetUtcNow().UtcDateTime }, cancellationToken);
            audit.Record("preferences.update", "user", caller.UserId.ToString(), caller.Username, new { updated_fields = patch.Select(field => field.Key).ToArray() });
            return new Response(true, merged);
        }

        // RFC 7386: objects merge member by member, null removes a member, anything else replaces.
        private static JsonNode? MergePatch(JsonNode? target, JsonNode? patch)
        {
            if (patch is not JsonObject patchObject)
            {
                return patch?.DeepClone();
            }

            var result = target as JsonObject ?? [];
            foreach (var (name, value) in patchObject)
            {
                if (value is null)
                {
                    result.Remove(name);
                }
                else
                {
                    var existing = result[name];
                    result.Remove(name);
                    result[name] = MergePatch(existing, value);
                }
            }

            return result;
        }
    }

    /// <summary>Gyre's preferences schema: the problems by path, and the patch holding only the known keys.</summary>
    private static class Schema
    {
        private static readonly string[] Themes = ["light", "dark", "system"];
        private static readonly string[] Events = ["success", "failure", "warning", "info", "error"];
        private static readonly string[] ChecklistItems = ["clusters", "settings", "auth-providers", "backups"];

        public static List<(string Path, string Message)> Check(JsonElement body, out JsonObject patch)
        {
            var problems = new List<(string, string)>();
            patch = [];
            if (body.ValueKind != JsonValueKind.Object)
            {
                problems.Add(("body", "Preferences must be a JSON object"));
                return problems;
            }

            foreach (var property in body.EnumerateObject())
            {
                switch (property.Name)
                {
                    case "theme":
                        patch["theme"] = OneOf(property.Value, "theme", Themes, problems);
                        break;
                    case "notifications":
                        patch["notifications"] = Section(property.Value, "notifications", problems, (name, value) => name switch
                        {
                            "enabled" => Boolean(value, "notifications.enabled", problems),
                            "resourceTypes" => Strings(value, "notifications.resourceTypes", null, problems),
                            "namespaces" => Strings(value, "notifications.namespaces", null, problems),
                            "events" => Strings(value, "notifications.events", Events, problems),
                            _ => Unknown,
                        });
                        break;
                    case "onboarding":
                        patch["onboarding"] = Section(property.Value, "onboarding", problems, (name, value) => name switch
                        {
                            "adminChecklistDismissed" => Boolean(value, "onboarding.adminChecklistDismissed", problems),
                            "adminChecklistCompletedItems" => Strings(value, "onboarding.adminChecklistCompletedItems", ChecklistItems, problems),
                            _ => Unknown,
                        });
                        break;
                }
            }

            return problems;
        }

        // Marks a key the schema does not know: dropped from the patch.
        private static readonly JsonNode Unknown = JsonValue.Create("__unknown__");

        private static JsonNode? Section(JsonElement value, string path, List<(string, string)> problems, Func<string, JsonElement, JsonNode?> field)
        {
            if (value.ValueKind == JsonValueKind.Null)
            {
                return null;
            }

            if (value.ValueKind != JsonValueKind.Object)
            {
                problems.Add((path, $"{path} must be an object"));
                return null;
            }

            var section = new JsonObject();
            foreach (var property in value.EnumerateObject())
            {
                var node = field(property.Name, property.Value);
                if (!ReferenceEquals(node, Unknown))
                {
                    section[property.Name] = node;
                }
            }

            return section;
        }

        private static JsonNode? OneOf(JsonElement value, string path, string[] allowed, List<(string, string)> problems)
        {
            if (value.ValueKind == JsonValueKind.Null)
            {
                return null;
            }

            if (value.ValueKind != JsonValueKind.String || !allowed.Contains(value.GetString()))
            {
                problems.Add((path, $"{path} must be one of: {string.Join(", ", allowed)}"));
                return null;
            }

            return JsonValue.Create(value.GetString());
        }

        private static JsonNode? Boolean(JsonElement value, string path, List<(string, string)> problems)
        {
            if (value.ValueKind is JsonValueKind.True or JsonValueKind.False)
            {
                return JsonValue.Create(value.GetBoolean());
            }

            if (value.ValueKind != JsonValueKind.Null)
            {
                problems.Add((path, $"{path} must be a boolean"));
            }

            return null;
        }

        private static JsonNode? Strings(JsonElement value, string path, string[]? allowed, List<(string, string)> problems)
        {
            if (value.ValueKind == JsonValueKind.Null)
            {
                return null;
            }

            if (value.ValueKind != JsonValueKind.Array || value.GetArrayLength() > 500)
            {
                problems.Add((path, $"{path} must be a list of at most 500 strings"));
                return null;
            }

            var list = new JsonArray();
            var index = 0;
            foreach (var item in value.EnumerateArray())
            {
                var itemPath = $"{path}.{index++}";
                if (item.ValueKind != JsonValueKind.String || item.GetString()!.Length > 253)
                {
                    problems.Add((itemPath, $"{itemPath} must be a string of at most 253 characters"));
                }
                else if (allowed is not null && !allowed.Contains(item.GetString()))
                {
                    problems.Add((itemPath, $"{itemPath} must be one of: {string.Join(", ", allowed)}"));
                }
                else
                {
                    list.Add(item.GetString());
                }
            }

            return list;
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/user/preferences", async (JsonElement body, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(body), cancellationToken)))
                .RequirePermission(Permissions.ProfileEdit)
                .WithName(nameof(UpdatePreferences))
                .WithTags(IdentityRoutes.Users)
                .WithSummary("Change your preferences (RFC 7386 merge; null removes a key)")
                .ProducesErrors(400, 401, 403, 429);
    }
}
