using System.Text.Json.Nodes;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Clusters;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Flux;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Kubernetes;
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
/// <c>PUT /api/v1/flux/{resourceType}/{namespace}/{name}</c> (seeds 000, 001): replaces the object with the full
/// manifest given as Gyre's <c>{yaml}</c>, a raw object, or seed 001's <c>{resource}</c>/<c>{cluster, resource}</c>.
/// Kind and apiVersion must match the endpoint, the name and namespace the URL. Without
/// <c>metadata.resourceVersion</c> the live one is used; with a stale one the cluster's 409 comes back. Needs write.
/// </summary>
public static class UpdateFluxResource
{
    public sealed record Command(string ResourceType, string Namespace, string Name, JsonObject? Body, string? Cluster, string? ClusterCookie) : ICommand<JsonObject>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.ResourceType).Must(type => FluxResourceTypes.Resolve(type) is not null).WithMessage(command => $"Invalid resource type: {command.ResourceType}. Valid types: {FluxResourceTypes.ValidTypes}");
            RuleFor(command => command.Namespace).Must(FluxGateway.IsNamespace).WithMessage(FluxGateway.NamespaceMessage);
            RuleFor(command => command.Name).Must(FluxGateway.IsName).WithMessage(FluxGateway.NameMessage);
            RuleFor(command => command.Body).NotNull().WithMessage("The body must be {yaml}, a Kubernetes object or {resource}").OverridePropertyName("body");
            RuleFor(command => command.Body!["yaml"]).Must(yaml => yaml is JsonValue value && value.TryGetValue<string>(out var text) && text.Length is > 0 and <= 1_000_000)
                .When(command => command.Body?.ContainsKey("yaml") == true).WithMessage("yaml must be the full manifest as a string").OverridePropertyName("yaml");
        }
    }

    internal sealed class Handler(FluxGateway gateway, AuditTrail audit) : IRequestHandler<Command, JsonObject>
    {
        public async Task<JsonObject> Handle(Command command, CancellationToken cancellationToken)
        {
            var type = FluxGateway.ResolveType(command.ResourceType);
            var resource = Manifest(command.Body!);
            if (resource["kind"]?.ToString() != type.Kind)
            {
                throw BadRequestException.ForField("kind", $"kind mismatch: body declares \"{resource["kind"]}\" but endpoint handles \"{type.Kind}\"");
            }

            if (resource["apiVersion"]?.ToString() != type.ApiVersion)
            {
                throw BadRequestException.ForField("apiVersion", $"apiVersion mismatch: {type.Kind} is served as \"{type.ApiVersion}\", the body declares \"{resource["apiVersion"]}\"");
            }

            if (resource["metadata"] is not JsonObject metadata || metadata["name"]?.ToString() != command.Name)
            {
                throw BadRequestException.ForField("metadata.name", $"metadata.name must be \"{command.Name}\", as in the URL");
            }

            if (metadata["namespace"] is { } ns && ns.ToString() != command.Namespace)
            {
                throw BadRequestException.ForField("metadata.namespace", $"metadata.namespace must be \"{command.Namespace}\", as in the URL");
            }

            metadata["namespace"] = command.Namespace;
            var cluster = command.Cluster ?? command.Body!["cluster"]?.ToString();
            var session = await gateway.OpenAsync(cluster, command.ClusterCookie, cancellationToken);
            session.Access.Demand(FluxAction.Write, type.Kind, command.Namespace, session.Target);
            if (string.IsNullOrEmpty(metadata["resourceVersion"]?.ToString()))
            {
                var live = await session.Client.GetAsync(type.Resource, command.Namespace, command.Name, cancellationToken);
                metadata["resourceVersion"] = live["metadata"]?["resourceVersion"]?.DeepClone();
            }

            metadata.Remove("managedFields");
            var replaced = await session.Client.ReplaceAsync(type.Resource, command.Namespace, command.Name, resource, cancellationToken);
            audit.Record("flux.update", type.Kind, $"{command.Namespace}/{command.Name}", command.Name, new { cluster = session.Cluster.Name });
            return replaced;
        }

        private static JsonObject Manifest(JsonObject body)
        {
            if (body["yaml"] is JsonValue yaml)
            {
                try
                {
                    return YamlJson.ParseObject(yaml.ToString());
                }
                catch (FormatException exception)
                {
                    throw BadRequestException.ForField("yaml", $"Invalid YAML: {exception.Message}");
                }
            }

            return (JsonObject)(body["apiVersion"] is null && body["resource"] is JsonObject wrapped ? wrapped : body).DeepClone();
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPut("/api/v1/flux/{resourceType}/{namespace}/{name}", async (
                    string resourceType, string @namespace, string name, JsonObject? body, string? cluster, HttpRequest request, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(resourceType, @namespace, name, body, cluster, request.Cookies[ClusterDirectory.CookieName]), cancellationToken)))
                .RequirePermission(Permissions.FluxWrite)
                .WithName(nameof(UpdateFluxResource))
                .WithTags(GitOpsRoutes.Resources)
                .WithSummary("Replace a Flux resource")
                .WithBodyLimit(2 * 1024 * 1024)
                .ProducesErrors(400, 401, 403, 404, 409, 503);
    }
}
