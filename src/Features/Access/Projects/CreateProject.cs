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

namespace Capstan.Features.Access.Projects;

/// <summary><c>POST /api/v1/projects</c> (seed 003) <c>{name, owner_team_id?, status?}</c>: 201 with the project; a taken
/// name (case-insensitive) is a 409 (the upstream answered 500).</summary>
public static class CreateProject
{
    public sealed record Command(
        [property: JsonPropertyName("name")] string? Name,
        [property: JsonPropertyName("owner_team_id")] string? OwnerTeamId,
        [property: JsonPropertyName("status")] string? Status) : ICommand<ProjectBody>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Name).NotEmpty().WithMessage("name is required").MaximumLength(200);
            RuleFor(command => command.OwnerTeamId).MaximumLength(200);
            RuleFor(command => command.Status).Must(status => string.IsNullOrEmpty(status) || status is "active" or "archived")
                .WithMessage("status must be active or archived");
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit) : IRequestHandler<Command, ProjectBody>
    {
        private const string Taken = "SELECT EXISTS (SELECT 1 FROM access.projects WHERE lower(name) = lower(@Name))";

        private const string Insert = $"""
            INSERT INTO access.projects (id, name, owner_team_id, status, created_by) VALUES (@Id, @Name, @OwnerTeamId, @Status, @CreatedBy)
            RETURNING {ProjectBody.Columns}
            """;

        public async Task<ProjectBody> Handle(Command command, CancellationToken cancellationToken)
        {
            var name = command.Name!.Trim();
            if (await db.QuerySingleAsync<bool>(Taken, new { Name = name }, cancellationToken))
            {
                throw new ConflictException("A project with this name already exists");
            }

            var project = await db.QuerySingleAsync<ProjectBody>(
                Insert,
                new
                {
                    Id = Guid.CreateVersion7(),
                    Name = name,
                    OwnerTeamId = string.IsNullOrWhiteSpace(command.OwnerTeamId) ? null : command.OwnerTeamId.Trim(),
                    Status = string.IsNullOrEmpty(command.Status) ? "active" : command.Status,
                    CreatedBy = request.RequiredCaller.UserId,
                },
                cancellationToken);
            audit.Record("project.create", "project", project.Id.ToString(), project.Name, new { project.Status });
            return project;
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/projects", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var project = await mediator.Send(command, cancellationToken);
                    return TypedResults.Created($"/api/v1/projects/{project.Id}", project);
                })
                .RequirePermission(Permissions.ProjectEdit)
                .WithName(nameof(CreateProject))
                .WithTags(AccessRoutes.Tenancy)
                .WithSummary("Create a project")
                .ProducesErrors(400, 401, 403, 409);
    }
}
