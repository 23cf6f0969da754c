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

namespace Capstan.Features.Access.GitOps;

/// <summary><c>POST /api/v1/gitops-app-mappings</c> (seed 003, integration.edit; GitOps feature)
/// <c>{argocd_endpoint_id, application_name, secret_mapping_id? | provider_connection_id?, application_namespace?,
/// project_name?, cluster_name?}</c>: when a request whose <c>target_provider_config</c> names that
/// <c>provider_connection_id</c> (or <c>secret_mapping_id</c>) is executed, the application is observed until it is
/// applied. Exactly one anchor is required. 201.</summary>
public static class CreateAppMapping
{
    public sealed record Command(
        [property: JsonPropertyName("argocd_endpoint_id")] Guid? ArgocdEndpointId,
        [property: JsonPropertyName("application_name")] string? ApplicationName,
        [property: JsonPropertyName("secret_mapping_id")] Guid? SecretMappingId,
        [property: JsonPropertyName("provider_connection_id")] Guid? ProviderConnectionId,
        [property: JsonPropertyName("application_namespace")] string? ApplicationNamespace,
        [property: JsonPropertyName("project_name")] string? ProjectName,
        [property: JsonPropertyName("cluster_name")] string? ClusterName) : ICommand<AppMappingBody>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.ArgocdEndpointId).NotNull().WithMessage("argocd_endpoint_id is required");
            RuleFor(command => command.ApplicationName).NotEmpty().WithMessage("application_name is required").MaximumLength(253);
            RuleFor(command => command.SecretMappingId).Must((command, id) => (id is null) != (command.ProviderConnectionId is null))
                .WithMessage("exactly one of secret_mapping_id or provider_connection_id required");
            RuleFor(command => command.ApplicationNamespace).MaximumLength(253);
            RuleFor(command => command.ProjectName).MaximumLength(253);
            RuleFor(command => command.ClusterName).MaximumLength(253);
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit) : IRequestHandler<Command, AppMappingBody>
    {
        private const string EndpointExists = "SELECT EXISTS (SELECT 1 FROM access.argocd_endpoints WHERE id = @Id AND deleted_at IS NULL)";

        private const string Insert = $"""
            INSERT INTO access.gitops_app_mappings
                (id, secret_mapping_id, provider_connection_id, argocd_endpoint_id, application_name, application_namespace, project_name, cluster_name, created_by)
            VALUES (@Id, @SecretMappingId, @ProviderConnectionId, @ArgocdEndpointId, @ApplicationName, @ApplicationNamespace, @ProjectName, @ClusterName, @CreatedBy)
            RETURNING {AppMappingBody.Columns}
            """;

        public async Task<AppMappingBody> Handle(Command command, CancellationToken cancellationToken)
        {
            if (!await db.QuerySingleAsync<bool>(EndpointExists, new { Id = command.ArgocdEndpointId }, cancellationToken))
            {
                throw BadRequestException.ForField("argocd_endpoint_id", "argocd_endpoint_id does not name an ArgoCD endpoint");
            }

            var mapping = await db.QuerySingleAsync<AppMappingBody>(
                Insert,
                new
                {
                    Id = Guid.CreateVersion7(),
                    command.SecretMappingId,
                    command.ProviderConnectionId,
                    command.ArgocdEndpointId,
                    ApplicationName = command.ApplicationName!.Trim(),
                    ApplicationNamespace = Blank(command.ApplicationNamespace),
                    ProjectName = Blank(command.ProjectName),
                    ClusterName = Blank(command.ClusterName),
                    CreatedBy = request.RequiredCaller.UserId,
                },
                cancellationToken);
            audit.Record("gitops_mapping.create", "gitops_mapping", mapping.Id.ToString(), mapping.ApplicationName, new { argocd_endpoint_id = mapping.ArgocdEndpointId });
            return mapping;
        }

        private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/gitops-app-mappings", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var mapping = await mediator.Send(command, cancellationToken);
                    return TypedResults.Created((string?)null, mapping);
                })
                .RequireFeature(AccessRoutes.GitOpsFeature)
                .RequirePermission(Permissions.IntegrationEdit)
                .WithName(nameof(CreateAppMapping))
                .WithTags(AccessRoutes.GitOps)
                .WithSummary("Map a provider connection to an ArgoCD application")
                .ProducesErrors(400, 401, 403, 404);
    }
}
