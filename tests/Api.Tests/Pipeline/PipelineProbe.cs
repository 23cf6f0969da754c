using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Paging;
using Capstan.Infrastructure.Routing;
using Capstan.Tests.Support;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Capstan.Api.Tests.Pipeline;

/// <summary>Test-only routes that make the pipeline fail in each way it must answer (validation, conflicts, crashes,
/// bad binding, large bodies), so the error middleware is tested through real requests. Not part of the service.</summary>
public static class PipelineProbe
{
    public sealed record Command(string? Name, int Count) : ICommand<Response>;

    public sealed record Response(string Name, int Count);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Name).NotEmpty().MaximumLength(20);
            RuleFor(command => command.Count).InclusiveBetween(1, 10);
        }
    }

    internal sealed class Handler : IRequestHandler<Command, Response>
    {
        public Task<Response> Handle(Command request, CancellationToken cancellationToken) =>
            Task.FromResult(new Response(request.Name!, request.Count));
    }

    public sealed record Conflict : ICommand<int>;

    internal sealed class ConflictHandler(Capstan.Infrastructure.Data.DbSession session) : IRequestHandler<Conflict, int>
    {
        public Task<int> Handle(Conflict request, CancellationToken cancellationToken) =>
            session.ExecuteAsync("DO $$ BEGIN RAISE unique_violation USING MESSAGE = 'duplicate key secret_constraint_name'; END $$", null, cancellationToken);
    }

    internal sealed class Routes : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app)
        {
            app.MapPost("/test/pipeline/validate", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                TypedResults.Ok(await mediator.Send(command, cancellationToken))).AllowAnonymous();
            app.MapPost("/test/pipeline/conflict", async (IMediator mediator, CancellationToken cancellationToken) =>
                TypedResults.Ok(await mediator.Send(new Conflict(), cancellationToken))).AllowAnonymous();
            app.MapGet("/test/pipeline/crash", string () => throw new InvalidOperationException("internal detail: password=hunter2 at Host=db.internal"))
                .AllowAnonymous();
            app.MapGet("/test/pipeline/missing", string () => throw new NotFoundException("Widget not found")).AllowAnonymous();
            app.MapGet("/test/pipeline/rate-limited", string () => throw new TooManyRequestsException(TimeSpan.FromSeconds(42))).AllowAnonymous();
            app.MapGet("/test/pipeline/database-down", async (CancellationToken cancellationToken) =>
            {
                await using var connection = new NpgsqlConnection("Host=127.0.0.1;Port=1;Timeout=2;Username=x;Password=y");
                await connection.OpenAsync(cancellationToken);
                return "unreachable";
            }).AllowAnonymous();
            app.MapGet("/test/pipeline/paging", ([AsParameters] PagingQuery paging) =>
            {
                var page = paging.ToPage(defaultSize: 25, maxSize: 100);
                var sort = paging.ToSort(new SortWhitelist("name", OrderDirection.Ascending, "id", ("name", "name"), ("createdAt", "created_at")));
                return new { page.Offset, page.Size, page.Number, sort.Key, sort.OrderBy };
            }).AllowAnonymous();
            app.MapGet("/test/pipeline/number/{value:int}", (int value, int? limit) => new { value, limit }).AllowAnonymous();
            app.MapPost("/test/pipeline/upload", async (HttpRequest request) =>
            {
                using var reader = new StreamReader(request.Body);
                return (await reader.ReadToEndAsync()).Length;
            }).AllowAnonymous().WithBodyLimit(64);
        }
    }
}

/// <summary>The service plus the probe routes, on its own database (its collection runs beside the main one).</summary>
public sealed class PipelineFixture : ApiFixture
{
    protected override string Purpose => "pipeline";

    protected override ApiFactory CreateFactory(string connectionString) => new(
        connectionString,
        configureServices: services =>
        {
            services.AddSingleton<ICarterModule, PipelineProbe.Routes>();
            services.AddRequestHandlers(typeof(PipelineProbe).Assembly);
        });
}

[CollectionDefinition(Name)]
public sealed class PipelineCollection : ICollectionFixture<PipelineFixture>
{
    public const string Name = "pipeline";
}
