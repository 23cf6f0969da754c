using Capstan.Infrastructure.Data;
using Dapper;
using MediatR;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Xunit;

namespace Capstan.Tests.Support;

/// <summary>
/// One test database (a copy of the migrated template) and the service running on it, shared by a test collection.
/// Tests reset the database first (<see cref="ResetAsync"/>), then drive the service over HTTP
/// (<see cref="CreateClient"/>) or send a slice's request through the real MediatR pipeline (<see cref="SendAsync{T}"/>).
/// </summary>
public class ApiFixture : IAsyncLifetime
{
    private ApiFactory? _factory;

    public ApiFactory Factory => _factory ?? throw new InvalidOperationException("The fixture is not initialised.");

    public string ConnectionString => Factory.ConnectionString;

    public CapturedLogs Logs => Factory.Logs;

    public IServiceProvider Services => Factory.Services;

    protected virtual string Purpose => "api";

    public async Task InitializeAsync()
    {
        _factory = CreateFactory(PostgresServer.CreateDatabase(Purpose));
        await _factory.WaitUntilReadyAsync();
    }

    /// <summary>Override to add settings or test-only services (extra routes, stand-ins) to the host.</summary>
    protected virtual ApiFactory CreateFactory(string connectionString) => new(connectionString);

    public async Task DisposeAsync()
    {
        if (_factory is not null)
        {
            await _factory.DisposeAsync();
        }
    }

    public async Task ResetAsync()
    {
        await DatabaseReset.RunAsync(ConnectionString);
        Logs.Clear();
    }

    public HttpClient CreateClient() => Factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false });

    /// <summary>Sends a slice's request through the full pipeline (validation, transaction) in a fresh scope.</summary>
    public async Task<T> SendAsync<T>(IRequest<T> request)
    {
        await using var scope = Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<IMediator>().Send(request);
    }

    /// <summary>Runs <paramref name="action"/> with a scoped service (for handler tests that need a collaborator).</summary>
    public async Task<T> WithScopeAsync<T>(Func<IServiceProvider, Task<T>> action)
    {
        await using var scope = Services.CreateAsyncScope();
        return await action(scope.ServiceProvider);
    }

    public async Task<List<T>> QueryAsync<T>(string sql, object? parameters = null)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        return (await connection.QueryAsync<T>(sql, parameters)).AsList();
    }

    public async Task<T?> ScalarAsync<T>(string sql, object? parameters = null)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        return await connection.ExecuteScalarAsync<T>(sql, parameters);
    }

    public async Task<int> ExecuteAsync(string sql, object? parameters = null)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        return await connection.ExecuteAsync(sql, parameters);
    }

    /// <summary>Every row of every table in <paramref name="schemas"/> as text (bytea shows as hex): what a canary
    /// test searches for leaked secrets.</summary>
    public async Task<string> StoredRowsAsTextAsync(params string[] schemas)
    {
        var tables = await QueryAsync<string>(
            "SELECT format('%I.%I', table_schema, table_name) FROM information_schema.tables WHERE table_schema = ANY(@Schemas) AND table_type = 'BASE TABLE'",
            new { Schemas = schemas });
        var text = new System.Text.StringBuilder();
        foreach (var table in tables)
        {
            text.AppendLine(await ScalarAsync<string>($"SELECT coalesce(string_agg(t::text, E'\\n'), '') FROM {table} t"));
        }

        return text.ToString();
    }

    /// <summary>Migrations known to this build (for tests of the migrator itself).</summary>
    public static IReadOnlyList<MigrationScript> Migrations => Migrator.EmbeddedScripts;
}
