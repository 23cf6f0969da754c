using System.Text.Json;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using Capstan.Infrastructure.Settings;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Identity;

/// <summary>
/// <c>PATCH /api/v1/admin/settings</c> (seed 000, admin): changes some settings, all or nothing, checked in Gyre's
/// order: invalid JSON (400 <c>Invalid JSON body</c>), a body that is not an object (400 <c>Invalid request body</c>),
/// unknown fields (400 naming them), each field's type and range (400), and only then fields locked by an environment
/// variable (409 naming each field and its variable). The values are written in one transaction; <c>{}</c> changes
/// nothing. Answers the full settings as GET does; audited as <c>settings.update</c> with the requested and changed keys.
/// </summary>
public static class UpdateSettings
{
    /// <summary>The parsed body, kept raw so every check (and its message) is this slice's, not the binder's.</summary>
    public sealed record Command(JsonElement Body) : ICommand<Response>;

    public sealed record Response(IReadOnlyDictionary<string, SettingValue> Settings);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() =>
            RuleFor(command => command.Body).Custom((body, context) =>
            {
                if (body.ValueKind != JsonValueKind.Object)
                {
                    context.AddFailure("body", "Invalid request body");
                    return;
                }

                var unknown = body.EnumerateObject().Select(field => field.Name).Where(name => AuthSettings.Find(name) is null).Distinct().ToList();
                if (unknown.Count > 0)
                {
                    context.AddFailure("body", $"Unknown setting field(s): {string.Join(", ", unknown)}");
                    return;
                }

                foreach (var field in body.EnumerateObject())
                {
                    if (AuthSettings.Check(AuthSettings.Find(field.Name)!, field.Value).Error is { } error)
                    {
                        context.AddFailure(field.Name, error);
                    }
                }
            });
    }

    internal sealed class Handler(DbSession db, AuthSettings settings, RequestContext request, AuditTrail audit, TimeProvider clock)
        : IRequestHandler<Command, Response>
    {
        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            // A repeated field counts once, with its last value (as JSON.parse reads it).
            var requested = command.Body.EnumerateObject()
                .GroupBy(field => field.Name, StringComparer.Ordinal)
                .Select(group => (Definition: AuthSettings.Find(group.Key)!, Value: AuthSettings.Check(AuthSettings.Find(group.Key)!, group.Last().Value).Value!.Value))
                .ToList();

            var locked = requested.Where(entry => settings.EnvironmentValue(entry.Definition) is not null).ToList();
            if (locked.Count > 0)
            {
                throw new ConflictException("Setting field(s) are locked by environment variable: "
                    + string.Join(", ", locked.Select(entry => $"{entry.Definition.Field} ({entry.Definition.EnvironmentVariable})")));
            }

            var current = await settings.ReadAllAsync(db, cancellationToken);
            var changed = requested.Where(entry => !JsonElement.DeepEquals(current[entry.Definition.Field].Value, entry.Value)).ToList();
            await AuthSettings.WriteAsync(db, requested, request.RequiredCaller.UserId, clock.GetUtcNow().UtcDateTime, cancellationToken);
            audit.Record("settings.update", "settings", null, null, new
            {
                requested_keys = requested.Select(entry => entry.Definition.Field).ToArray(),
                changed_keys = changed.Select(entry => entry.Definition.Field).ToArray(),
            });
            return new Response(await settings.ReadAllAsync(db, cancellationToken));
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPatch("/api/v1/admin/settings", async (HttpRequest http, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    JsonElement body;
                    try
                    {
                        using var document = await JsonDocument.ParseAsync(http.Body, new JsonDocumentOptions { MaxDepth = 64 }, cancellationToken);
                        body = document.RootElement.Clone();
                    }
                    catch (JsonException)
                    {
                        throw new BadRequestException("Invalid JSON body");
                    }

                    return TypedResults.Ok(await mediator.Send(new Command(body), cancellationToken));
                })
                .RequirePermission(Permissions.SettingsEdit)
                .WithName(nameof(UpdateSettings))
                .WithTags(IdentityRoutes.Admin)
                .WithSummary("Change admin settings (all or nothing)")
                .Accepts<Dictionary<string, JsonElement>>("application/json")
                .ProducesErrors(400, 401, 403, 409);
    }
}
