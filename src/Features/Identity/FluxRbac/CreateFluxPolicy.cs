using System.Globalization;
using System.Text.Json;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Flux;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Identity;

/// <summary>
/// <c>POST /api/v1/rbac/policies</c> (seed 001): creates a Flux RBAC policy from seed 001's
/// <c>{name, rules: [{resources, namespaces, actions, clusters?}]}</c> or Gyre's single rule
/// <c>{name, role, action, resourceType?, namespacePattern?, clusterId?}</c>. Resources are Flux Kinds or plurals
/// (stored as Kinds), namespaces globs, actions read/write/admin (or view/edit/delete...), clusters registered ids or
/// names. <c>role</c> (default viewer) is the lowest base role the policy can apply to. 201 with the policy; 409 for a
/// taken name.
/// </summary>
public static class CreateFluxPolicy
{
    public sealed record RuleInput(IReadOnlyList<string>? Resources, IReadOnlyList<string>? Namespaces, IReadOnlyList<string>? Actions, IReadOnlyList<string>? Clusters);

    public sealed record Command : ICommand<FluxPolicyView>
    {
        public string? Name { get; init; }

        public string? Description { get; init; }

        public string? Role { get; init; }

        public IReadOnlyList<RuleInput>? Rules { get; init; }

        public string? Action { get; init; }

        public string? ResourceType { get; init; }

        public string? NamespacePattern { get; init; }

        public string? ClusterId { get; init; }

        public bool? IsActive { get; init; }

        /// <summary>The rules of either request shape.</summary>
        public IReadOnlyList<RuleInput> EffectiveRules() =>
            Rules ?? (Action is null
                ? []
                : [new RuleInput(
                    string.IsNullOrWhiteSpace(ResourceType) ? [] : [ResourceType],
                    string.IsNullOrWhiteSpace(NamespacePattern) ? [] : [NamespacePattern],
                    [Action],
                    string.IsNullOrWhiteSpace(ClusterId) ? [] : [ClusterId])]);
    }

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Name).NotEmpty().Length(3, 100);
            RuleFor(command => command.Description).MaximumLength(500);
            RuleFor(command => command.Role).Must(BaseRoles.IsValid).When(command => command.Role is not null).WithMessage($"role must be one of: {BaseRoles.AcceptedValues}");
            RuleFor(command => command.EffectiveRules()).NotEmpty().WithMessage("rules (or action) is required").OverridePropertyName("rules");
            RuleFor(command => command.EffectiveRules()).Must(rules => rules.Count <= 50).WithMessage("at most 50 rules").OverridePropertyName("rules");
            RuleForEach(command => command.EffectiveRules()).ChildRules(rule =>
            {
                rule.RuleFor(item => item.Actions).NotEmpty().WithMessage("each rule needs at least one action");
                rule.RuleForEach(item => item.Actions).Must(action => FluxAccess.ParseAction(action) is not null)
                    .WithMessage("actions must be read, write or admin (or view, edit, create, update, delete, reconcile, suspend, resume, rollback)");
                rule.RuleForEach(item => item.Resources).Must(resource => resource == "*" || FluxResourceTypes.Resolve(resource) is not null)
                    .WithMessage($"resources must be Flux kinds or plurals: {FluxResourceTypes.ValidTypes}");
                rule.RuleForEach(item => item.Namespaces).Must(pattern => pattern is not null && FluxAccess.IsValidNamespacePattern(pattern))
                    .WithMessage("namespaces must be namespace names or globs (lower-case letters, digits, '-', '*', '?')");
                rule.RuleForEach(item => item.Clusters).NotEmpty().MaximumLength(100);
            }).OverridePropertyName("rules");
        }
    }

    internal sealed class Handler(DbSession db, AuditTrail audit, TimeProvider clock) : IRequestHandler<Command, FluxPolicyView>
    {
        private const string Taken = "SELECT EXISTS (SELECT 1 FROM identity.flux_policies WHERE lower(name) = lower(@Name))";

        private const string FindCluster = """
            SELECT id FROM clusters.clusters WHERE id = @Id OR lower(name) = lower(@Name) ORDER BY (id = @Id) DESC NULLS LAST LIMIT 1
            """;

        private const string Insert = """
            INSERT INTO identity.flux_policies (id, name, description, role, rules, is_active, is_system, created_at, updated_at)
            VALUES (@Id, @Name, @Description, @Role, CAST(@Rules AS jsonb), @IsActive, false, @Now, @Now)
            """;

        public async Task<FluxPolicyView> Handle(Command command, CancellationToken cancellationToken)
        {
            var name = command.Name!.Trim();
            if (await db.ExecuteScalarAsync<bool>(Taken, new { Name = name }, cancellationToken))
            {
                throw new ConflictException($"A policy named '{name}' already exists");
            }

            var rules = new List<FluxRule>();
            foreach (var (input, index) in command.EffectiveRules().Select((input, index) => (input, index)))
            {
                var clusters = new List<string>();
                foreach (var cluster in input.Clusters ?? [])
                {
                    if (cluster.Trim() == "*")
                    {
                        clusters.Add("*");
                        continue;
                    }

                    var id = await db.QuerySingleOrDefaultAsync<Guid?>(FindCluster, new { Id = Guid.TryParse(cluster, out var parsed) ? parsed : (Guid?)null, Name = cluster.Trim() }, cancellationToken)
                        ?? throw BadRequestException.ForField(string.Create(CultureInfo.InvariantCulture, $"rules[{index}].clusters"), $"Unknown cluster '{cluster}'");
                    clusters.Add(id.ToString());
                }

                rules.Add(new FluxRule(
                    [.. (input.Resources ?? []).Select(resource => resource == "*" ? "*" : FluxResourceTypes.Resolve(resource)!.Kind).Distinct()],
                    [.. (input.Namespaces ?? []).Select(pattern => pattern.Trim()).Distinct()],
                    [.. input.Actions!.Select(action => FluxAccess.ParseAction(action)!.Value.ToString().ToLowerInvariant()).Distinct()],
                    [.. clusters.Distinct()]));
            }

            var policyId = Guid.CreateVersion7();
            var role = command.Role is null ? "viewer" : BaseRoles.Parse(command.Role).Name();
            await db.ExecuteAsync(
                Insert,
                new
                {
                    Id = policyId,
                    Name = name,
                    Description = command.Description?.Trim() ?? string.Empty,
                    Role = role,
                    Rules = JsonSerializer.Serialize(rules, FluxRule.Json),
                    IsActive = command.IsActive ?? true,
                    Now = clock.GetUtcNow().UtcDateTime,
                },
                cancellationToken);
            audit.Record("rbac.policy.create", "flux_policy", policyId.ToString(), name, new { role, rules = rules.Count });
            return (await FluxPolicyShapes.LoadAsync(db, policyId, cancellationToken)).Single();
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/rbac/policies", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var policy = await mediator.Send(command, cancellationToken);
                    return TypedResults.Created($"/api/v1/rbac/policies/{policy.Id}", policy);
                })
                .RequirePermission(Permissions.FluxRbacEdit)
                .WithName(nameof(CreateFluxPolicy))
                .WithTags(FluxPolicyShapes.Tag)
                .WithSummary("Create a Flux RBAC policy")
                .ProducesErrors(400, 401, 403, 409);
    }
}
