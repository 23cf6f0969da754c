using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;

namespace Capstan.Infrastructure.Delivery;

/// <summary>Where the builder runs and with which images (<c>Delivery:Builds</c>).</summary>
public sealed record BuildSettings(string BuilderImage, string GitImage, string Namespace, TimeSpan Deadline, TimeSpan PollInterval)
{
    public static BuildSettings From(IConfiguration configuration)
    {
        var section = configuration.GetSection("Delivery:Builds");
        return new BuildSettings(
            section["BuilderImage"] is { Length: > 0 } builder ? builder : "gcr.io/kaniko-project/executor:v1.23.2",
            section["GitImage"] is { Length: > 0 } git ? git : "alpine/git:2.45.2",
            section["Namespace"] is { Length: > 0 } ns ? ns : "kubeorch-builds",
            TimeSpan.FromMinutes(section.GetValue("DeadlineMinutes", 30)),
            TimeSpan.FromMilliseconds(section.GetValue("PollMilliseconds", 2000)));
    }
}

/// <summary>A build's request as the Job needs it.</summary>
public sealed record BuildSpec(
    Guid BuildId, string RepoUrl, string Branch, string BuildContext, string? Dockerfile, IReadOnlyDictionary<string, string> BuildArgs, bool UseNixpacks, string ImageRef);

/// <summary>What the Job's pod says about the build: status, stage text, progress, and what it produced.</summary>
public sealed record BuildObservation(string Status, string Stage, long Progress, string? CommitSha, string? Digest, string? Error, string? ErrorStage)
{
    public bool IsTerminal => Status is "completed" or "failed" or "cancelled";
}

/// <summary>
/// Image builds as Kubernetes Jobs in the target cluster: an init container (a git image) clones the branch and picks
/// the Dockerfile — the one named, the repository's, or one generated for the detected project type (Node, Python, Go,
/// Rust, Ruby, PHP, Java, .NET, static files) — and the builder container (Kaniko-style, configurable) builds and
/// pushes with the registry login mounted as <c>/kaniko/.docker/config.json</c>. The clone's commit and the pushed
/// digest come back as the containers' termination messages.
/// </summary>
public static class ImageBuilds
{
    public const string CloneContainer = "clone";
    public const string BuildContainer = "build";
    public const string BuildLabel = "kubeorch.io/build";

    public static string JobName(Guid buildId) => $"kubeorch-build-{buildId:N}"[..27];

    public static string SecretName(Guid buildId) => JobName(buildId) + "-docker";

    /// <summary>The image reference a build pushes: registry host (and account for Docker Hub and GHCR) + name + tag.</summary>
    public static string ImageReference(RegistryRecord registry, RegistryCredentials credentials, string imageName, string tag)
    {
        var name = imageName.Trim().Trim('/');
        string prefix;
        if (name.Contains('/', StringComparison.Ordinal) && ContainerRegistries.HostOf(name) != "docker.io")
        {
            prefix = string.Empty;
        }
        else
        {
            prefix = registry.RegistryType switch
            {
                ContainerRegistries.DockerHub => name.Contains('/', StringComparison.Ordinal) ? "docker.io/" : $"docker.io/{credentials.Username}/",
                ContainerRegistries.Ghcr => name.Contains('/', StringComparison.Ordinal) ? "ghcr.io/" : $"ghcr.io/{credentials.Username?.ToLowerInvariant()}/",
                _ => (ContainerRegistries.UrlHost(registry.RegistryUrl) ?? string.Empty) + "/",
            };
        }

        return $"{prefix}{name}:{tag}";
    }

    public static JsonObject Namespace(string name) => new()
    {
        ["apiVersion"] = "v1",
        ["kind"] = "Namespace",
        ["metadata"] = new JsonObject { ["name"] = name, ["labels"] = new JsonObject { ["managed-by"] = ManifestRenderer.ManagedBy } },
    };

    public static JsonObject Job(BuildSpec spec, BuildSettings settings, string @namespace, string dockerConfigSecret)
    {
        var labels = new JsonObject { ["app"] = "kubeorch-build", ["managed-by"] = ManifestRenderer.ManagedBy, [BuildLabel] = spec.BuildId.ToString() };
        var context = spec.BuildContext.Trim().Trim('/') is { Length: > 0 } ctx && ctx != "." ? ctx : string.Empty;
        var args = new JsonArray(
            $"--context=dir:///workspace/src/{context}".TrimEnd('/'),
            "--dockerfile=/workspace/build.Dockerfile",
            $"--destination={spec.ImageRef}",
            "--digest-file=/dev/termination-log",
            "--cleanup");
        foreach (var (key, value) in spec.BuildArgs.OrderBy(pair => pair.Key, StringComparer.Ordinal))
        {
            args.Add($"--build-arg={key}={value}");
        }

        return new JsonObject
        {
            ["apiVersion"] = "batch/v1",
            ["kind"] = "Job",
            ["metadata"] = new JsonObject { ["name"] = JobName(spec.BuildId), ["namespace"] = @namespace, ["labels"] = labels },
            ["spec"] = new JsonObject
            {
                ["backoffLimit"] = 0,
                ["activeDeadlineSeconds"] = (long)settings.Deadline.TotalSeconds,
                ["ttlSecondsAfterFinished"] = 3600,
                ["template"] = new JsonObject
                {
                    ["metadata"] = new JsonObject { ["labels"] = labels.DeepClone() },
                    ["spec"] = new JsonObject
                    {
                        ["restartPolicy"] = "Never",
                        ["initContainers"] = new JsonArray(new JsonObject
                        {
                            ["name"] = CloneContainer,
                            ["image"] = settings.GitImage,
                            ["command"] = new JsonArray("/bin/sh", "-c", CloneScript),
                            ["env"] = new JsonArray(
                                Env("REPO_URL", spec.RepoUrl),
                                Env("BRANCH", spec.Branch),
                                Env("CONTEXT", context),
                                Env("DOCKERFILE", spec.Dockerfile ?? string.Empty),
                                Env("USE_NIXPACKS", spec.UseNixpacks ? "true" : "false")),
                            ["volumeMounts"] = new JsonArray(new JsonObject { ["name"] = "workspace", ["mountPath"] = "/workspace" }),
                        }),
                        ["containers"] = new JsonArray(new JsonObject
                        {
                            ["name"] = BuildContainer,
                            ["image"] = settings.BuilderImage,
                            ["args"] = args,
                            ["volumeMounts"] = new JsonArray(
                                new JsonObject { ["name"] = "workspace", ["mountPath"] = "/workspace" },
                                new JsonObject { ["name"] = "docker-config", ["mountPath"] = "/kaniko/.docker", ["readOnly"] = true }),
                        }),
                        ["volumes"] = new JsonArray(
                            new JsonObject { ["name"] = "workspace", ["emptyDir"] = new JsonObject() },
                            new JsonObject
                            {
                                ["name"] = "docker-config",
                                ["secret"] = new JsonObject
                                {
                                    ["secretName"] = dockerConfigSecret,
                                    ["items"] = new JsonArray(new JsonObject { ["key"] = ".dockerconfigjson", ["path"] = "config.json" }),
                                },
                            }),
                    },
                },
            },
        };
    }

    /// <summary>
    /// Reads the build's progress from its Job and pod: waiting → <c>pending</c> 0; clone running → <c>cloning</c> 5;
    /// builder running → <c>building</c> 30 (<c>pushing</c> 75 once its log says so); builder exited 0 →
    /// <c>completed</c> 100 with the digest; a container failing or the Job failing (deadline) → <c>failed</c>.
    /// </summary>
    public static BuildObservation Observe(JsonObject? job, IReadOnlyList<JsonObject> pods, bool builderSaysPushing)
    {
        if (job is null)
        {
            return new BuildObservation("failed", "Failed", 0, null, null, "The build Job no longer exists in the cluster", "building");
        }

        var jobConditions = (job["status"]?["conditions"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        var pod = pods.OrderByDescending(item => item["metadata"]?["creationTimestamp"]?.ToString(), StringComparer.Ordinal).FirstOrDefault();
        var clone = Status(pod, "initContainerStatuses", CloneContainer);
        var build = Status(pod, "containerStatuses", BuildContainer);
        var commit = NodeData.Number(Terminated(clone)?["exitCode"]) == 0 ? Text(Terminated(clone)?["message"])?.Trim() : null;

        if (Terminated(clone) is { } cloneDone && NodeData.Number(cloneDone["exitCode"]) is { } cloneCode && cloneCode != 0)
        {
            return new BuildObservation("failed", "Failed", 5, null, null, Text(cloneDone["message"]) ?? $"Cloning failed (exit code {cloneCode})", "cloning");
        }

        if (Terminated(build) is { } buildDone)
        {
            var code = NodeData.Number(buildDone["exitCode"]) ?? 1;
            return code == 0
                ? new BuildObservation("completed", "Completed", 100, commit, DigestOf(Text(buildDone["message"])), null, null)
                : new BuildObservation("failed", "Failed", 30, commit, null, Text(buildDone["message"]) ?? Text(buildDone["reason"]) ?? $"The build failed (exit code {code})", "building");
        }

        if (jobConditions.FirstOrDefault(condition => Text(condition["type"]) == "Failed" && Text(condition["status"]) == "True") is { } failed)
        {
            return new BuildObservation("failed", "Failed", 0, commit, null, Text(failed["message"]) ?? Text(failed["reason"]) ?? "The build Job failed", clone?["state"]?["terminated"] is null ? "cloning" : "building");
        }

        if (jobConditions.Any(condition => Text(condition["type"]) == "Complete" && Text(condition["status"]) == "True"))
        {
            return new BuildObservation("completed", "Completed", 100, commit, null, null, null);
        }

        if (build?["state"]?["running"] is not null)
        {
            return builderSaysPushing
                ? new BuildObservation("pushing", "Pushing image", 75, commit, null, null, null)
                : new BuildObservation("building", "Building image", 30, commit, null, null, null);
        }

        if (clone?["state"]?["running"] is not null)
        {
            return new BuildObservation("cloning", "Cloning repository", 5, null, null, null, null);
        }

        if (Terminated(clone) is not null)
        {
            return new BuildObservation("building", "Preparing Dockerfile", 20, commit, null, null, null);
        }

        return new BuildObservation("pending", "Queued", 0, null, null, null, null);
    }

    private static JsonObject? Status(JsonObject? pod, string list, string container) =>
        (pod?["status"]?[list] as JsonArray ?? []).OfType<JsonObject>().FirstOrDefault(status => Text(status["name"]) == container);

    private static JsonObject? Terminated(JsonObject? status) => status?["state"]?["terminated"] as JsonObject;

    private static string? DigestOf(string? message) =>
        message?.Trim() is { } text && text.StartsWith("sha256:", StringComparison.Ordinal) ? text.Split('\n')[0].Trim() : null;

    private static string? Text(JsonNode? node) => NodeData.Text(node);

    private static JsonObject Env(string name, string value) => new() { ["name"] = name, ["value"] = value };

    /// <summary>The clone container's script: clone, pick or generate the Dockerfile, report the commit.</summary>
    public const string CloneScript = """
        set -eu
        echo "Cloning $REPO_URL (branch $BRANCH)"
        git clone --depth 1 --single-branch --branch "$BRANCH" -- "$REPO_URL" /workspace/src
        COMMIT=$(git -C /workspace/src rev-parse HEAD)
        echo "Checked out $COMMIT"
        cd "/workspace/src/${CONTEXT:-.}"
        if [ -n "$DOCKERFILE" ]; then
          [ -f "$DOCKERFILE" ] || { echo "Dockerfile $DOCKERFILE not found in the build context" >&2; exit 1; }
          cp "$DOCKERFILE" /workspace/build.Dockerfile
        elif [ -f Dockerfile ] && [ "$USE_NIXPACKS" != "true" ]; then
          cp Dockerfile /workspace/build.Dockerfile
        elif [ -f package.json ]; then
          echo "Detected a Node.js project"
          printf '%s\n' 'FROM node:20-alpine' 'WORKDIR /app' 'COPY . .' 'RUN if [ -f package-lock.json ]; then npm ci; else npm install; fi' 'RUN npm run build --if-present' 'ENV NODE_ENV=production' 'EXPOSE 3000' 'CMD ["npm", "start"]' > /workspace/build.Dockerfile
        elif [ -f requirements.txt ] || [ -f pyproject.toml ]; then
          echo "Detected a Python project"
          ENTRY=app.py; [ -f main.py ] && ENTRY=main.py
          printf '%s\n' 'FROM python:3.12-slim' 'WORKDIR /app' 'COPY . .' 'RUN if [ -f requirements.txt ]; then pip install --no-cache-dir -r requirements.txt; else pip install --no-cache-dir .; fi' 'EXPOSE 8000' "CMD [\"python\", \"$ENTRY\"]" > /workspace/build.Dockerfile
        elif [ -f go.mod ]; then
          echo "Detected a Go project"
          printf '%s\n' 'FROM golang:1.22 AS build' 'WORKDIR /src' 'COPY . .' 'RUN CGO_ENABLED=0 go build -o /out/app .' 'FROM gcr.io/distroless/static-debian12' 'COPY --from=build /out/app /app' 'EXPOSE 8080' 'ENTRYPOINT ["/app"]' > /workspace/build.Dockerfile
        elif [ -f Cargo.toml ]; then
          echo "Detected a Rust project"
          printf '%s\n' 'FROM rust:1.79 AS build' 'WORKDIR /src' 'COPY . .' 'RUN cargo build --release && cp "$(find target/release -maxdepth 1 -type f -perm -u+x | head -n1)" /app' 'FROM debian:bookworm-slim' 'COPY --from=build /app /app' 'EXPOSE 8080' 'ENTRYPOINT ["/app"]' > /workspace/build.Dockerfile
        elif [ -f Gemfile ]; then
          echo "Detected a Ruby project"
          printf '%s\n' 'FROM ruby:3.3-slim' 'WORKDIR /app' 'COPY . .' 'RUN bundle install' 'EXPOSE 3000' 'CMD ["bundle", "exec", "rackup", "--host", "0.0.0.0", "--port", "3000"]' > /workspace/build.Dockerfile
        elif [ -f composer.json ]; then
          echo "Detected a PHP project"
          printf '%s\n' 'FROM php:8.3-apache' 'COPY . /var/www/html/' 'EXPOSE 80' > /workspace/build.Dockerfile
        elif [ -f pom.xml ]; then
          echo "Detected a Java (Maven) project"
          printf '%s\n' 'FROM maven:3.9-eclipse-temurin-21 AS build' 'WORKDIR /src' 'COPY . .' 'RUN mvn -q -DskipTests package && cp target/*.jar /app.jar' 'FROM eclipse-temurin:21-jre' 'COPY --from=build /app.jar /app.jar' 'EXPOSE 8080' 'ENTRYPOINT ["java", "-jar", "/app.jar"]' > /workspace/build.Dockerfile
        elif ls ./*.csproj >/dev/null 2>&1; then
          echo "Detected a .NET project"
          printf '%s\n' 'FROM mcr.microsoft.com/dotnet/sdk:8.0 AS build' 'WORKDIR /src' 'COPY . .' 'RUN dotnet publish -c Release -o /out' 'FROM mcr.microsoft.com/dotnet/aspnet:8.0' 'WORKDIR /app' 'COPY --from=build /out .' 'EXPOSE 8080' 'ENTRYPOINT ["sh", "-c", "dotnet $(ls *.dll | head -n1)"]' > /workspace/build.Dockerfile
        elif [ -f index.html ]; then
          echo "Detected a static site"
          printf '%s\n' 'FROM nginx:1.27-alpine' 'COPY . /usr/share/nginx/html' 'EXPOSE 80' > /workspace/build.Dockerfile
        else
          echo "No Dockerfile and no supported project type (package.json, requirements.txt, go.mod, Cargo.toml, Gemfile, composer.json, pom.xml, *.csproj, index.html)" >&2
          exit 1
        fi
        printf '%s' "$COMMIT" > /dev/termination-log
        """;
}
