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

/// <summary><c>POST /api/v1/environments</c> (seed 003) <c>{project_id, name, type?, kind?, risk_level?,
/// description?}</c>: <c>type</c> dev|staging|uat|prod|other (default other); <c>kind</c> non_prod|prod, derived from the
/// type when omitted and fixed for good (a prod-type environment is always kind prod: the PROD invariant rests on it);
/// <c>risk_level</c> 0–4 (default 4 for prod, else 1). 201; a name taken in the project is a 409.</summary>
public static class CreateEnvironment
{
    public static readonly string[] Types = ["dev", "staging", "uat", "prod", "other"];

    public sealed record Command(
        [property: JsonPropertyName("project_id")] Guid? ProjectId,
        [property: JsonPropertyName("name")] string? Name,
        [property: JsonPropertyName("type")] string? Type,
        [property: JsonPropertyName("kind")] string? Kind,
        [property: JsonPropertyName("risk_level")] long? RiskLevel,
        [property: JsonPropertyName("description")] string? Description) : ICommand<EnvironmentBody>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.ProjectId).NotNull().WithMessage("project_id is required");
            RuleFor(command => command.Name).NotEmpty().WithMessage("name is required").MaximumLength(100);
            RuleFor(command => command.Type).Must(type => string.IsNullOrEmpty(type) || Types.Contains(type))
                .WithMessage($"type must be one of: {string.Join(", ", Types)}");
            RuleFor(command => command.Kind).Must(kind => string.IsNullOrEmpty(kind) || kind is "non_prod" or "prod").WithMessage("kind must be non_prod or prod");
            RuleFor(command => command.Kind).Must((command, kind) => command.Type != "prod" || string.IsNullOrEmpty(kind) || kind == "prod")
                .WithMessage("an environment of type prod is always kind prod");
            RuleFor(command => command.RiskLevel).InclusiveBetween(0, 4).When(command => command.RiskLevel is not null);
            RuleFor(command => command.Description).MaximumLength(2000);
        }
    }

    internal sealed class Handler(DbSession db, AuditTrail audit) : IRequestHandler<Command, EnvironmentBody>
    {
        private const string Project = "SELECT status FROM access.projects WHERE id = @Id";

        private const string Taken = "SELECT EXISTS (SELECT 1 FROM access.environments WHERE project_id = @ProjectId AND lower(name) = lower(@Name))";

        private const string Insert = $"""
            INSERT INTO access.environments (id, project_id, name, type, kind, risk_level, description)
            VALUES (@Id, @ProjectId, @Name, @Type, @Kind, @RiskLevel, @Description)
            RETURNING {EnvironmentBody.Columns}
            """;

        public async Task<EnvironmentBody> Handle(Command command, CancellationToken cancellationToken)
        {
            var status = await db.QuerySingleOrDefaultAsync<string>(Project, new { Id = command.ProjectId }, cancellationToken)
                ?? throw BadRequestException.ForField("project_id", "project_id does not name a project");
            if (status != "active")
            {
                throw new ConflictException("The project is archived");
            }

            var name = command.Name!.Trim();
            if (await db.QuerySingleAsync<bool>(Taken, new { command.ProjectId, Name = name }, cancellationToken))
            {
                throw new ConflictException("environment with this name already exists in the project");
            }

            var type = string.IsNullOrEmpty(command.Type) ? "other" : command.Type;
            var kind = string.IsNullOrEmpty(command.Kind) ? (type == "prod" ? "prod" : "non_prod") : command.Kind;
            var environment = await db.QuerySingleAsync<EnvironmentBody>(
                Insert,
                new
                {
                    Id = Guid.CreateVersion7(),
                    command.ProjectId,
                    Name = name,
                    Type = type,
                    Kind = kind,
                    RiskLevel = command.RiskLevel ?? (kind == "prod" ? 4 : 1),
                    Description = command.Description?.Trim() ?? string.Empty,
                },
                cancellationToken);
            audit.Record("environment.create", "environment", environment.Id.ToString(), environment.Name, new { project_id = environment.ProjectId, type, kind, environment.RiskLevel });
            return environment;
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/environments", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var environment = await mediator.Send(command, cancellationToken);
                    return TypedResults.Created((string?)null, environment);
                })
                .RequirePermission(Permissions.ProjectEdit)
                .WithName(nameof(CreateEnvironment))
                .WithTags(AccessRoutes.Tenancy)
                .WithSummary("Create an environment in a project")
                .ProducesErrors(400, 401, 403, 409);
    }
}
