using System.Text.Json.Serialization;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Clusters;
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

namespace Capstan.Features.Clusters;

/// <summary><c>POST /v1/api/clusters/{name}/share</c> (seed 002): the owner shares the cluster with another active user
/// (<c>{targetUserId, role: viewer|editor|admin, namespaces?}</c>); sharing again changes the role. The user then sees
/// and may use the cluster; changing or removing it stays the owner's. <c>{message: "Cluster shared successfully",
/// cluster}</c>; 400 <c>Invalid target user ID</c>, 404 unknown user.</summary>
public static class ShareCluster
{
    public static readonly string[] Roles = ["viewer", "editor", "admin"];

    public sealed record Command : ICommand<Response>
    {
        [JsonIgnore]
        public string Name { get; init; } = string.Empty;

        public string? TargetUserId { get; init; }

        [JsonPropertyName("target_user_id")]
        public string? TargetUserIdSnake { get; init; }

        public string? Role { get; init; }

        public IReadOnlyList<string>? Namespaces { get; init; }

        [JsonIgnore]
        public string? EffectiveTarget => TargetUserId ?? TargetUserIdSnake;
    }

    public sealed record Response(string Message, ClusterResponse Cluster);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Name).NotEmpty().MaximumLength(100);
            RuleFor(command => command.EffectiveTarget).NotEmpty().WithMessage("targetUserId is required")
                .Must(id => Guid.TryParse(id, out _)).WithMessage("Invalid target user ID").OverridePropertyName("targetUserId");
            RuleFor(command => command.Role).NotEmpty().Must(role => Roles.Contains(role?.ToLowerInvariant()))
                .WithMessage($"role must be one of: {string.Join(", ", Roles)}");
            RuleFor(command => command.Namespaces).Must(namespaces => namespaces is null || (namespaces.Count <= 100 && namespaces.All(ns => !string.IsNullOrWhiteSpace(ns) && ns.Length <= 63)))
                .WithMessage("namespaces must be at most 100 namespace names");
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, ClusterDirectory directory) : IRequestHandler<Command, Response>
    {
        private const string TargetActive = "SELECT active FROM identity.users WHERE id = @Id";

        private const string Upsert = """
            INSERT INTO clusters.cluster_shares (cluster_id, user_id, role, namespaces, granted_by, granted_at)
            VALUES (@ClusterId, @UserId, @Role, @Namespaces, @GrantedBy, now())
            ON CONFLICT (cluster_id, user_id) DO UPDATE SET role = EXCLUDED.role, namespaces = EXCLUDED.namespaces, granted_by = EXCLUDED.granted_by, granted_at = now();
            INSERT INTO clusters.connection_logs (id, cluster_id, user_id, action, success, details)
            VALUES (@LogId, @ClusterId, @GrantedBy, 'access_granted', true, jsonb_build_object('targetUserId', @UserId::text, 'role', @Role));
            """;

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var cluster = await directory.GetVisibleAsync(command.Name, caller, cancellationToken);
            if (!ClusterDirectory.CanManage(cluster, caller))
            {
                throw new ForbiddenException("Only the cluster's owner can share it");
            }

            var target = Guid.Parse(command.EffectiveTarget!);
            if (target == cluster.OwnerId)
            {
                throw BadRequestException.ForField("targetUserId", "The cluster already belongs to this user");
            }

            if (await db.QuerySingleOrDefaultAsync<bool?>(TargetActive, new { Id = target }, cancellationToken) is not true)
            {
                throw new NotFoundException("User not found");
            }

            var role = command.Role!.ToLowerInvariant();
            await db.ExecuteAsync(
                Upsert,
                new { ClusterId = cluster.Id, UserId = target, Role = role, Namespaces = (command.Namespaces ?? []).Select(ns => ns.Trim()).Distinct().ToArray(), GrantedBy = caller.UserId, LogId = Guid.CreateVersion7() },
                cancellationToken);
            audit.Record("cluster.share", "cluster", cluster.Id.ToString(), cluster.Name, new { target_user_id = target, role });
            return new Response("Cluster shared successfully", await ClusterShapes.LoadAsync(db, cluster.Id, caller, cancellationToken));
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/v1/api/clusters/{name}/share", async (string name, Command command, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(command with { Name = name }, cancellationToken)))
                .RequirePermission(Permissions.ClusterEdit)
                .WithName(nameof(ShareCluster))
                .WithTags(ClusterRoutes.Registry)
                .WithSummary("Share cluster with another user (seed 002)")
                .ProducesErrors(400, 401, 403, 404);
    }
}
