using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Paging;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Identity;

/// <summary><c>GET /api/v1/users</c> (seed 001): users, paged, filtered by <c>search</c> (username, email, name),
/// <c>role</c> and <c>active</c>, sorted by username, email, role, createdAt or lastLoginAt.</summary>
public static class ListUsers
{
    private static readonly SortWhitelist Sorts = new(
        "username",
        OrderDirection.Ascending,
        "id",
        ("username", "username"),
        ("email", "email"),
        ("role", "role"),
        ("createdAt", "created_at"),
        ("lastLoginAt", "last_login_at"));

    public sealed record Query(string? Search, string? Role, bool? Active, PageRequest Page, SortClause Sort) : IQuery<Response>;

    public sealed record Response(IReadOnlyList<UserView> Users, long Total, PageInfo Pagination);

    public sealed record UserView
    {
        public Guid Id { get; init; }

        public string Username { get; init; } = string.Empty;

        public string? Email { get; init; }

        public string Name { get; init; } = string.Empty;

        public string Role { get; init; } = string.Empty;

        public bool Active { get; init; }

        public string AuthProvider { get; init; } = string.Empty;

        public bool IsLocal => AuthProvider == "local";

        public bool RequiresPasswordChange { get; init; }

        public DateTime? LastLoginAt { get; init; }

        public DateTime CreatedAt { get; init; }

        public DateTime UpdatedAt { get; init; }
    }

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.Search).MaximumLength(100);
            RuleFor(query => query.Role).Must(BaseRoles.IsValid).When(query => query.Role is not null)
                .WithMessage($"role must be one of: {BaseRoles.AcceptedValues}");
        }
    }

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, Response>
    {
        private const string Filter = """
            FROM identity.users
            WHERE (@Search::text IS NULL OR username ILIKE @Search OR email ILIKE @Search OR name ILIKE @Search)
              AND (@Role::text IS NULL OR role = @Role)
              AND (@Active::boolean IS NULL OR active = @Active)
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var parameters = new
            {
                Search = query.Search is { Length: > 0 } search ? $"%{EscapeLike(search)}%" : null,
                Role = query.Role is null ? null : BaseRoles.Parse(query.Role).Name(),
                query.Active,
                query.Page.Offset,
                Limit = query.Page.Size,
            };
            var total = await db.ExecuteScalarAsync<long>($"SELECT count(*) {Filter}", parameters, cancellationToken);
            var users = await db.QueryAsync<UserView>(
                $"""
                SELECT id, username, email, name, role, active, auth_provider, requires_password_change, last_login_at, created_at, updated_at
                {Filter}
                ORDER BY {query.Sort.OrderBy}
                LIMIT @Limit OFFSET @Offset
                """,
                parameters,
                cancellationToken);
            return new Response(users, total, PageInfo.Of(query.Page, total));
        }

        private static string EscapeLike(string value) =>
            value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/users", async (string? search, string? role, bool? active, [AsParameters] PagingQuery paging, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(search?.Trim(), role, active, paging.ToPage(defaultSize: 50, maxSize: 200), paging.ToSort(Sorts)), cancellationToken)))
                .RequirePermission(Permissions.UserRead)
                .WithName(nameof(ListUsers))
                .WithTags(IdentityRoutes.Users)
                .WithSummary("List users")
                .ProducesErrors(400, 401, 403);
    }
}
