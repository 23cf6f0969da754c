using System.Text;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Background;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Delivery;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Events;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using Capstan.Infrastructure.Tools;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Features.Delivery.Imports;

/// <summary>
/// <c>POST /v1/api/import/analyze</c> (seed 002, reference §13): <c>{source, url?, branch?, fileContent?, fileName?,
/// namespace?, workflowId?}</c>. <c>source: file</c> analyses the base64 Compose file at once →
/// <c>{async: false, analysis}</c> (invalid YAML or unknown keys 400, over 1 MB 413). <c>github</c>, <c>gitlab</c> and
/// <c>git_url</c> clone the branch (default main) in the background → <c>{async: true, sessionId, message}</c>, followed
/// on <c>GET /import/{id}/stream</c>: a Compose file at the root is analysed; without one, the project type is detected
/// (Node, Python, Go, …, or a Dockerfile) and a one-service analysis needing a build is made. Needs <c>git</c> on the
/// server (503 naming it otherwise).
/// </summary>
public static class AnalyzeImport
{
    private static readonly string[] Sources = ["file", "github", "gitlab", "git_url"];
    private static readonly string[] ComposeFiles = ["docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml"];

    public sealed record Command(string? Source, string? Url, string? Branch, string? FileContent, string? FileName, string? Namespace, Guid? WorkflowId) : ICommand<Response>;

    public sealed record Response
    {
        public bool Async { get; init; }

        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public JsonObject? Analysis { get; init; }

        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public Guid? SessionId { get; init; }

        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public string? Message { get; init; }
    }

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Source).Must(source => source is not null && Sources.Contains(source))
                .WithMessage($"source must be one of: {string.Join(", ", Sources)}");
            RuleFor(command => command.FileContent).NotEmpty().When(command => command.Source == "file").WithMessage("fileContent (the base64 Compose file) is required for source file");
            RuleFor(command => command.Url).NotEmpty().When(command => command.Source is not null and not "file").WithMessage("url is required for a Git source").MaximumLength(500);
            RuleFor(command => command.Branch).Matches("^[A-Za-z0-9._/-]{1,200}$").When(command => !string.IsNullOrEmpty(command.Branch))
                .Must(branch => branch is null || (!branch.StartsWith('-') && !branch.Contains("..", StringComparison.Ordinal))).WithMessage("branch is not a valid branch name");
            RuleFor(command => command.FileName).MaximumLength(255)
                .Must(name => string.IsNullOrEmpty(name) || name.EndsWith(".yml", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase))
                .WithMessage("Invalid file type. Only .yml and .yaml files are allowed");
            RuleFor(command => command.Namespace).Matches("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$").MaximumLength(63).When(command => !string.IsNullOrEmpty(command.Namespace))
                .WithMessage("namespace must be a valid Kubernetes namespace name");
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, IConfiguration configuration, AuditTrail audit) : IRequestHandler<Command, Response>
    {
        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            if (command.WorkflowId is { } workflowId)
            {
                await WorkflowStore.GetOwnedAsync(db, workflowId, caller.UserId, cancellationToken);
            }

            var ns = string.IsNullOrWhiteSpace(command.Namespace) ? "default" : command.Namespace.Trim();
            if (command.Source == "file")
            {
                var analysis = ComposeImport.Analyze(Decode(command.FileContent!), ns);
                audit.Record("delivery.import.analyze", "import", null, command.FileName, new { source = "file", services = (analysis["services"] as JsonArray)?.Count });
                return new Response { Async = false, Analysis = analysis };
            }

            var git = new GitCli(configuration);
            if (git.Refuse(command.Url!) is { } refusal)
            {
                throw BadRequestException.ForField("url", refusal);
            }

            if (!await git.IsAvailableAsync(cancellationToken))
            {
                throw new ServiceUnavailableException("git is not installed on the server: Git imports need the git client (set Delivery:Import:GitPath)");
            }

            var id = Guid.CreateVersion7();
            await db.ExecuteAsync(
                """
                INSERT INTO delivery.import_sessions (id, user_id, source, url, branch, namespace, workflow_id, status, current_stage, progress, created_at, updated_at)
                VALUES (@Id, @UserId, @Source, @Url, @Branch, @Namespace, @WorkflowId, 'pending', 'queued', 0, now(), now())
                """,
                new { Id = id, caller.UserId, command.Source, Url = command.Url!.Trim(), Branch = string.IsNullOrWhiteSpace(command.Branch) ? "main" : command.Branch.Trim(), Namespace = ns, command.WorkflowId },
                cancellationToken);
            audit.Record("delivery.import.analyze", "import", id.ToString(), command.Url, new { source = command.Source, branch = command.Branch });
            return new Response { Async = true, SessionId = id, Message = "Cloning repository..." };
        }

        private static string Decode(string base64)
        {
            byte[] bytes;
            try
            {
                bytes = Convert.FromBase64String(base64.Trim());
            }
            catch (FormatException)
            {
                throw BadRequestException.ForField("fileContent", "fileContent is not base64");
            }

            return bytes.Length > ComposeFile.MaxBytes
                ? throw new PayloadTooLargeException("File too large. Maximum size is 1MB")
                : Encoding.UTF8.GetString(bytes);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/v1/api/import/analyze", async (Command command, IMediator mediator, IServiceProvider services, CancellationToken cancellationToken) =>
                {
                    var response = await mediator.Send(command with { Source = command.Source?.Trim().ToLowerInvariant() }, cancellationToken);
                    if (response.SessionId is { } sessionId)
                    {
                        _ = BackgroundWork.Start(services, "git import", (scope, token) => CloneAndAnalyzeAsync(scope, sessionId, token));
                    }

                    return TypedResults.Ok(response);
                })
                .RequirePermission(Permissions.DeliveryEdit)
                .WithName("Delivery" + nameof(AnalyzeImport))
                .WithTags(DeliveryRoutes.Import)
                .WithSummary("Analyze an import source")
                .WithBodyLimit(2L << 20)
                .ProducesErrors(400, 401, 403, 404, 413, 503);
    }

    /// <summary>The background half of a Git import: clone (10), find and analyse (40, 60, 80), done (100).</summary>
    private static async Task CloneAndAnalyzeAsync(IServiceProvider services, Guid sessionId, CancellationToken cancellationToken)
    {
        var db = services.GetRequiredService<DbSession>();
        var hub = services.GetRequiredService<EventHub>();
        var git = new GitCli(services.GetRequiredService<IConfiguration>());
        var session = await db.QuerySingleAsync<ImportSessionRow>($"SELECT {ImportSessions.Columns} FROM delivery.import_sessions s WHERE s.id = @Id", new { Id = sessionId }, cancellationToken);
        var stage = "cloning";
        string? directory = null;
        try
        {
            await ImportSessions.ProgressAsync(db, hub, sessionId, "cloning", "cloning", 10, $"Cloning {session.Url} (branch {session.Branch})", cancellationToken);
            (directory, var commit) = await git.CloneAsync(session.Url, session.Branch, cancellationToken);
            stage = "analyzing";
            await ImportSessions.ProgressAsync(db, hub, sessionId, "analyzing", "analyzing", 40, $"Cloned commit {commit[..Math.Min(12, commit.Length)]}; looking for a Compose file", cancellationToken);
            JsonObject analysis;
            if (ComposeFiles.Select(name => Path.Combine(directory, name)).FirstOrDefault(File.Exists) is { } composePath)
            {
                var info = new FileInfo(composePath);
                if (info.Length > ComposeFile.MaxBytes)
                {
                    throw new PayloadTooLargeException($"{info.Name} is larger than 1MB");
                }

                await ImportSessions.ProgressAsync(db, hub, sessionId, "analyzing", "analyzing", 60, $"Analysing {info.Name}", cancellationToken);
                analysis = ComposeImport.Analyze(await File.ReadAllTextAsync(composePath, cancellationToken), session.Namespace);
            }
            else
            {
                var (type, port, hasDockerfile) = Detect(directory);
                await ImportSessions.ProgressAsync(db, hub, sessionId, "analyzing", "analyzing", 60, $"No Compose file: detected {type}", cancellationToken);
                var name = ComposeImport.Sanitize(Path.GetFileNameWithoutExtension(session.Url.TrimEnd('/')));
                var model = new ComposeModel();
                var service = new ComposeService { Name = name, Image = $"{name}:latest" };
                service.Ports.Add(new ComposePort(null, null, port, "tcp"));
                model.Services.Add(service);
                model.Warnings.Add($"The image {name}:latest has to be built first (see sourceBuildConfig)");
                analysis = ComposeImport.Analyze(model, session.Namespace, hasDockerfile ? "dockerfile" : "nixpacks");
                analysis["needsBuild"] = true;
                analysis["sourceBuildConfig"] = new JsonObject
                {
                    ["repoUrl"] = session.Url,
                    ["branch"] = session.Branch,
                    ["buildContext"] = ".",
                    ["useNixpacks"] = !hasDockerfile,
                    ["detectedLanguage"] = type,
                };
            }

            await ImportSessions.ProgressAsync(db, hub, sessionId, "analyzing", "analyzing", 80, $"Suggested {(analysis["suggestedNodes"] as JsonArray)?.Count ?? 0} nodes", cancellationToken);
            await ImportSessions.CompleteAsync(db, hub, sessionId, analysis, cancellationToken);
        }
        catch (ApiException exception)
        {
            await ImportSessions.FailAsync(db, hub, sessionId, stage, exception.Message, CancellationToken.None);
        }
        finally
        {
            if (directory is not null)
            {
                GitCli.TryDelete(directory);
            }
        }
    }

    /// <summary>The project type of a repository without a Compose file, its usual port, and whether it has a Dockerfile.</summary>
    private static (string Type, long Port, bool HasDockerfile) Detect(string directory)
    {
        bool Has(string name) => File.Exists(Path.Combine(directory, name));
        var dockerfile = Has("Dockerfile");
        (string, long) type =
            Has("package.json") ? ("node", 3000)
            : Has("requirements.txt") || Has("pyproject.toml") ? ("python", 8000)
            : Has("go.mod") ? ("go", 8080)
            : Has("Cargo.toml") ? ("rust", 8080)
            : Has("Gemfile") ? ("ruby", 3000)
            : Has("composer.json") ? ("php", 80)
            : Has("pom.xml") || Has("build.gradle") ? ("java", 8080)
            : Directory.EnumerateFiles(directory, "*.csproj").Any() ? ("dotnet", 8080)
            : Has("index.html") ? ("staticfile", 80)
            : dockerfile ? ("dockerfile", 8080)
            : throw new BadRequestException("unable to determine file type for import: no Compose file, Dockerfile or known project type at the repository root");
        return (type.Item1, type.Item2, dockerfile);
    }
}
