using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Clusters;
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

namespace Capstan.Features.GitOps;

/// <summary>
/// <c>POST /api/v1/flux/{resourceType}</c> (seeds 000, 001): creates a Flux object from the raw Kubernetes object
/// (seed 000) or seed 001's <c>{cluster, resource}</c>. The namespace defaults to <c>default</c>; <c>kind</c> must be the
/// endpoint's Kind and <c>apiVersion</c> exactly its group/version (400 naming the mismatch); server-set fields and
/// status are dropped. Needs write on the type in the namespace. 201 with the object as created.
/// </summary>
public static class CreateFluxResource
{
    public sealed record Command(string ResourceType, JsonObject? Body, string? Cluster, string? ClusterCookie) : ICommand<JsonObject>
    {
        /// <summary>The object: the body itself, or seed 001's <c>resource</c>.</summary>
        [JsonIgnore]
        public JsonObject? Resource => Body?["apiVersion"] is null && Body?["resource"] is JsonObject wrapped ? wrapped : Body;

        [JsonIgnore]
        public JsonObject? Metadata => Resource?["metadata"] as JsonObject;
    }

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.ResourceType).Must(type => FluxResourceTypes.Resolve(type) is not null).WithMessage(command => $"Invalid resource type: {command.ResourceType}. Valid types: {FluxResourceTypes.ValidTypes}");
            RuleFor(command => command.Resource).NotNull().WithMessage("The body must be a Kubernetes object (or {cluster, resource})").OverridePropertyName("body");
            RuleFor(command => command.Metadata).NotNull().When(command => command.Resource is not null).WithMessage("metadata is required").OverridePropertyName("metadata");
            RuleFor(command => command.Metadata!["name"]).Must(name => name is JsonValue value && FluxGateway.IsName(value.ToString())).When(command => command.Metadata is not null)
                .WithMessage(FluxGateway.NameMessage).OverridePropertyName("metadata.name");
            RuleFor(command => command.Metadata!["namespace"]).Must(ns => ns is JsonValue value && FluxGateway.IsNamespace(value.ToString()))
                .When(command => command.Metadata?["namespace"] is not null).WithMessage(FluxGateway.NamespaceMessage).OverridePropertyName("metadata.namespace");
            RuleFor(command => command.Resource!["kind"]).NotNull().When(command => command.Resource is not null).WithMessage("kind is required").OverridePropertyName("kind");
            RuleFor(command => command.Resource!["apiVersion"]).NotNull().When(command => command.Resource is not null).WithMessage("apiVersion is required").OverridePropertyName("apiVersion");
        }
    }

    internal sealed class Handler(FluxGateway gateway, AuditTrail audit) : IRequestHandler<Command, JsonObject>
    {
        private static readonly string[] ServerFields = ["uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink", "deletionTimestamp"];

        public async Task<JsonObject> Handle(Command command, CancellationToken cancellationToken)
        {
            var type = FluxGateway.ResolveType(command.ResourceType);
            var resource = (JsonObject)command.Resource!.DeepClone();
            var metadata = resource["metadata"]!.AsObject();
            var ns = metadata["namespace"]?.ToString() ?? "default";
            metadata["namespace"] = ns;
            CheckKind(resource, type);
            var cluster = command.Cluster ?? (command.Body?["resource"] is JsonObject ? command.Body["cluster"]?.ToString() : null);
            var session = await gateway.OpenAsync(cluster, command.ClusterCookie, cancellationToken);
            session.Access.Demand(FluxAction.Write, type.Kind, ns, session.Target);

            foreach (var field in ServerFields)
            {
                metadata.Remove(field);
            }

            resource.Remove("status");
            var created = await session.Client.CreateAsync(type.Resource, ns, resource, cancellationToken);
            audit.Record("flux.create", type.Kind, $"{ns}/{metadata["name"]}", metadata["name"]!.ToString(), new { cluster = session.Cluster.Name });
            return created;
        }

        internal static void CheckKind(JsonObject resource, FluxResourceType type)
        {
            var kind = resource["kind"]?.ToString();
            if (kind != type.Kind)
            {
                throw BadRequestException.ForField("kind", $"kind mismatch: body declares \"{kind}\" but endpoint handles \"{type.Kind}\"");
            }

            var apiVersion = resource["apiVersion"]?.ToString();
            if (apiVersion != type.ApiVersion)
            {
                throw BadRequestException.ForField("apiVersion", $"apiVersion mismatch: {type.Kind} is served as \"{type.ApiVersion}\", the body declares \"{apiVersion}\"");
            }
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/flux/{resourceType}", async (string resourceType, JsonObject? body, string? cluster, HttpRequest request, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var created = await mediator.Send(new Command(resourceType, body, cluster, request.Cookies[ClusterDirectory.CookieName]), cancellationToken);
                    var type = FluxResourceTypes.Resolve(resourceType)!;
                    return TypedResults.Created($"/api/v1/flux/{type.Plural}/{created["metadata"]?["namespace"]}/{created["metadata"]?["name"]}", created);
                })
                .RequirePermission(Permissions.FluxWrite)
                .WithName(nameof(CreateFluxResource))
                .WithTags(GitOpsRoutes.Resources)
                .WithSummary("Create a Flux resource")
                .ProducesErrors(400, 401, 403, 404, 409, 503);
    }
}
