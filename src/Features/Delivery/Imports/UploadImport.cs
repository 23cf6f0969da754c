using System.Text;
using System.Text.Json.Nodes;
using Capstan.Infrastructure.Audit;
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

namespace Capstan.Features.Delivery.Imports;

/// <summary><c>POST /v1/api/import/upload</c> (seed 002, reference §13): multipart <c>file</c> (a .yml or .yaml Compose
/// file of at most 1 MB, else 400/413) and form <c>namespace</c> (default <c>default</c>) →
/// <c>{analysis, fileName, fileSize, fileContent}</c> (the file back as base64, for a later analyze or import).</summary>
public static class UploadImport
{
    public sealed record Command(string FileName, byte[] Content, string? Namespace) : ICommand<Response>;

    public sealed record Response(JsonObject Analysis, string FileName, long FileSize, string FileContent);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.FileName).Must(name => name.EndsWith(".yml", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase))
                .WithMessage("Invalid file type. Only .yml and .yaml files are allowed").OverridePropertyName("file");
            RuleFor(command => command.Namespace).Matches("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$").MaximumLength(63).When(command => !string.IsNullOrEmpty(command.Namespace))
                .WithMessage("namespace must be a valid Kubernetes namespace name");
        }
    }

    internal sealed class Handler(AuditTrail audit) : IRequestHandler<Command, Response>
    {
        public Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var analysis = ComposeImport.Analyze(Encoding.UTF8.GetString(command.Content), string.IsNullOrWhiteSpace(command.Namespace) ? "default" : command.Namespace.Trim());
            audit.Record("delivery.import.upload", "import", null, command.FileName, new { size = command.Content.Length, services = (analysis["services"] as JsonArray)?.Count });
            return Task.FromResult(new Response(analysis, command.FileName, command.Content.Length, Convert.ToBase64String(command.Content)));
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/v1/api/import/upload", async (HttpRequest http, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    if (!http.HasFormContentType)
                    {
                        throw BadRequestException.ForField("file", "No file uploaded: send multipart/form-data with a 'file' field");
                    }

                    IFormCollection form;
                    try
                    {
                        form = await http.ReadFormAsync(cancellationToken);
                    }
                    catch (Exception exception) when (exception is InvalidDataException or IOException)
                    {
                        // A body that does not follow its declared boundary is the client's mistake, not ours.
                        throw BadRequestException.ForField("file", $"Malformed multipart body: {exception.Message}");
                    }

                    var file = form.Files.GetFile("file") ?? throw BadRequestException.ForField("file", "No file uploaded: the 'file' field is missing");
                    if (file.Length > ComposeFile.MaxBytes)
                    {
                        throw new PayloadTooLargeException("File too large. Maximum size is 1MB");
                    }

                    using var buffer = new MemoryStream();
                    await file.CopyToAsync(buffer, cancellationToken);
                    var name = Path.GetFileName(file.FileName ?? string.Empty);
                    return TypedResults.Ok(await mediator.Send(new Command(name, buffer.ToArray(), form["namespace"].ToString()), cancellationToken));
                })
                .RequirePermission(Permissions.DeliveryEdit)
                .WithName("Delivery" + nameof(UploadImport))
                .WithTags(DeliveryRoutes.Import)
                .WithSummary("Upload a Docker Compose file")
                .WithBodyLimit(2L << 20)
                .Accepts<IFormFile>("multipart/form-data")
                .ProducesErrors(400, 401, 403, 413);
    }
}
