using System.Text.Json.Nodes;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Background;
using Capstan.Infrastructure.Clusters;
using Capstan.Infrastructure.Crypto;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Delivery;
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

namespace Capstan.Features.Delivery.Builds;

/// <summary>
/// <c>POST /v1/api/builds/start</c> (seed 002, reference §10b): <c>{repoUrl, branch ("main"), registryId, imageName,
/// imageTag ("latest"), workflowId?, buildContext ("."), dockerfile?, buildArgs?, useNixpacks?, cluster?}</c> → 201
/// <c>{build, message}</c>. The build runs as a Kubernetes Job in the target cluster (the one named, else the
/// workflow's, else the caller's default) in namespace <c>Delivery:Builds:Namespace</c>: a git container clones the
/// branch and picks or generates the Dockerfile, the builder image (<c>Delivery:Builds:BuilderImage</c>, Kaniko by
/// default) builds and pushes to the registry with its login mounted from a Secret deleted when the build ends.
/// Progress is followed in the background; on success the workflow's deployments get the new image.
/// </summary>
public static class StartBuild
{
    public sealed record Command(
        string? RepoUrl,
        string? Branch,
        Guid? RegistryId,
        string? ImageName,
        string? ImageTag,
        Guid? WorkflowId,
        string? BuildContext,
        string? Dockerfile,
        Dictionary<string, string>? BuildArgs,
        bool? UseNixpacks,
        string? Cluster) : ICommand<Response>;

    public sealed record Response(BuildView Build, string Message);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.RepoUrl).NotEmpty().WithMessage("repoUrl is required").MaximumLength(500)
                .Must(url => url is null || System.Text.RegularExpressions.Regex.IsMatch(url.Trim(), "^(https?|ssh|git)://[^\\s]+$|^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\\s]+$"))
                .WithMessage("repoUrl must be an https, http, ssh or git URL");
            RuleFor(command => command.Branch).Matches("^[A-Za-z0-9._/-]{1,200}$").When(command => !string.IsNullOrEmpty(command.Branch))
                .Must(branch => branch is null || (!branch.StartsWith('-') && !branch.Contains("..", StringComparison.Ordinal))).WithMessage("branch is not a valid branch name");
            RuleFor(command => command.RegistryId).NotEmpty().WithMessage("registryId is required");
            RuleFor(command => command.ImageName).NotEmpty().WithMessage("imageName is required").MaximumLength(255)
                .Matches("^[a-z0-9]+([._-]+[a-z0-9]+)*(/[a-z0-9]+([._-]+[a-z0-9]+)*)*$").WithMessage("imageName must be lower-case letters, digits, '.', '_', '-' and '/'");
            RuleFor(command => command.ImageTag).Matches("^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$").When(command => !string.IsNullOrEmpty(command.ImageTag))
                .WithMessage("imageTag is not a valid tag");
            RuleFor(command => command.BuildContext).MaximumLength(255).Must(path => path is null || (!path.Contains("..", StringComparison.Ordinal) && !path.StartsWith('/')))
                .WithMessage("buildContext is a relative path inside the repository");
            RuleFor(command => command.Dockerfile).MaximumLength(255).Must(path => path is null || (!path.Contains("..", StringComparison.Ordinal) && !path.StartsWith('/')))
                .WithMessage("dockerfile is a relative path inside the build context");
            RuleFor(command => command.BuildArgs).Must(args => args is null || (args.Count <= 50 && args.Keys.All(key => System.Text.RegularExpressions.Regex.IsMatch(key, "^[A-Za-z_][A-Za-z0-9_]*$"))))
                .WithMessage("buildArgs: at most 50, names of letters, digits and '_'");
            RuleFor(command => command.Cluster).MaximumLength(100);
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, ClusterDirectory directory, EnvelopeCipher cipher, IConfiguration configuration, AuditTrail audit)
        : IRequestHandler<Command, Response>
    {
        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var registry = (await ContainerRegistries.AllAsync(db, cancellationToken)).FirstOrDefault(item => item.Id == command.RegistryId)
                ?? throw new NotFoundException("Registry not found");
            var credentials = RegistryCredentials.Open(cipher, registry.Id, registry.Credentials);
            if (credentials.BasicAuth(registry.RegistryType) is not { } login)
            {
                throw new ServiceUnavailableException("Pushing to ECR needs a token from the AWS API, which is not configured");
            }

            WorkflowRow? workflow = command.WorkflowId is { } workflowId ? await WorkflowStore.GetOwnedAsync(db, workflowId, caller.UserId, cancellationToken) : null;
            var cluster = await DeliveryClusters.ResolveAsync(directory, caller, string.IsNullOrWhiteSpace(command.Cluster) ? workflow?.ClusterId : command.Cluster, cancellationToken);
            var settings = BuildSettings.From(configuration);
            var id = Guid.CreateVersion7();
            var tag = string.IsNullOrWhiteSpace(command.ImageTag) ? "latest" : command.ImageTag.Trim();
            var imageRef = ImageBuilds.ImageReference(registry, credentials, command.ImageName!, tag);
            var spec = new BuildSpec(
                id,
                command.RepoUrl!.Trim(),
                string.IsNullOrWhiteSpace(command.Branch) ? "main" : command.Branch.Trim(),
                string.IsNullOrWhiteSpace(command.BuildContext) ? "." : command.BuildContext.Trim(),
                string.IsNullOrWhiteSpace(command.Dockerfile) ? null : command.Dockerfile.Trim(),
                command.BuildArgs ?? [],
                command.UseNixpacks == true,
                imageRef);
            await db.ExecuteAsync(
                """
                INSERT INTO delivery.builds (id, user_id, workflow_id, cluster_id, cluster_name, namespace, job_name, repo_url, branch, build_context, dockerfile,
                    build_args, use_nixpacks, registry_id, image_name, image_tag, image_ref, status, current_stage, progress, created_at, updated_at)
                VALUES (@Id, @UserId, @WorkflowId, @ClusterId, @ClusterName, @Namespace, @JobName, @RepoUrl, @Branch, @BuildContext, @Dockerfile,
                    CAST(@BuildArgs AS jsonb), @UseNixpacks, @RegistryId, @ImageName, @ImageTag, @ImageRef, 'pending', 'Queued', 0, now(), now())
                """,
                new
                {
                    Id = id,
                    caller.UserId,
                    WorkflowId = workflow?.Id,
                    ClusterId = cluster.Id,
                    ClusterName = cluster.Name,
                    settings.Namespace,
                    JobName = ImageBuilds.JobName(id),
                    spec.RepoUrl,
                    spec.Branch,
                    spec.BuildContext,
                    spec.Dockerfile,
                    BuildArgs = System.Text.Json.JsonSerializer.Serialize(spec.BuildArgs),
                    spec.UseNixpacks,
                    RegistryId = registry.Id,
                    ImageName = command.ImageName!.Trim(),
                    ImageTag = tag,
                    ImageRef = imageRef,
                },
                cancellationToken);

            // The Job goes in with the record: a cluster that refuses it leaves no build behind.
            var client = directory.Connect(cluster);
            await ManifestApplier.ApplyAsync(client, ImageBuilds.Namespace(settings.Namespace), cancellationToken);
            var server = ContainerRegistries.HostOf(imageRef) == "docker.io" ? "https://index.docker.io/v1/" : ContainerRegistries.HostOf(imageRef);
            var secret = ContainerRegistries.PullSecretManifest(ImageBuilds.SecretName(id), settings.Namespace, server, login.Username, login.Password, null);
            ((JsonObject)secret["metadata"]!["labels"]!)[ImageBuilds.BuildLabel] = id.ToString();
            await ManifestApplier.ApplyAsync(client, secret, cancellationToken);
            await ManifestApplier.ApplyAsync(client, ImageBuilds.Job(spec, settings, settings.Namespace, ImageBuilds.SecretName(id)), cancellationToken);
            audit.Record("delivery.build.start", "build", id.ToString(), imageRef, new { repo = spec.RepoUrl, spec.Branch, registry = registry.Name, cluster = cluster.Name, workflow = workflow?.Id });
            return new Response(BuildRecords.View(await BuildRecords.GetOwnedAsync(db, id, caller.UserId, cancellationToken)), "Build started successfully");
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/v1/api/builds/start", async (Command command, IMediator mediator, IServiceProvider services, CancellationToken cancellationToken) =>
                {
                    var started = await mediator.Send(command, cancellationToken);
                    _ = BackgroundWork.Start(services, "build tracker", (scope, token) => BuildTracker.TrackAsync(scope, started.Build.Id, token));
                    return TypedResults.Created($"/v1/api/builds/{started.Build.Id}", started);
                })
                .RequirePermission(Permissions.DeliveryBuild)
                .WithName("Delivery" + nameof(StartBuild))
                .WithTags(DeliveryRoutes.Builds)
                .WithSummary("Start a container image build")
                .ProducesErrors(400, 401, 403, 404, 503);
    }
}
