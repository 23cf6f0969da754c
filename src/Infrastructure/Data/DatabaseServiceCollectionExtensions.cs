using Dapper;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Capstan.Infrastructure.Data;

public static class DatabaseServiceCollectionExtensions
{
    public static IServiceCollection AddDatabase(this IServiceCollection services, IConfiguration configuration)
    {
        // snake_case columns map onto PascalCase members everywhere (created_at -> CreatedAt).
        DefaultTypeMap.MatchNamesWithUnderscores = true;

        services.AddSingleton(provider => DatabaseConnection.Resolve(
            configuration, provider.GetRequiredService<ILoggerFactory>().CreateLogger("Capstan.Database")));
        services.AddSingleton(provider =>
        {
            var connection = provider.GetRequiredService<DatabaseConnection>();
            var loggerFactory = provider.GetRequiredService<ILoggerFactory>();
            var primary = Build(connection.Primary, "capstan", loggerFactory);
            var read = connection.Read == connection.Primary ? primary : Build(connection.Read, "capstan-read", loggerFactory);
            return new DataSources(primary, read);
        });
        services.AddScoped<DbSession>();
        services.AddSingleton(provider => new Migrator(
            provider.GetRequiredService<DataSources>().Primary, provider.GetRequiredService<ILogger<Migrator>>()));
        return services;
    }

    private static NpgsqlDataSource Build(string connectionString, string applicationName, ILoggerFactory loggerFactory)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        builder.ApplicationName ??= applicationName;
        // Fail fast when the database is away, so requests answer 503 instead of hanging.
        if (builder.Timeout == 15)
        {
            builder.Timeout = 5;
        }

        // Statements run over and over (every slice's SQL is a constant) are prepared once per pooled connection, so the
        // server skips parsing and planning them after the second use. "Max Auto Prepare=0" in the connection string
        // turns this off (e.g. behind a transaction-pooling proxy).
        var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString };
        if (!given.ContainsKey("Max Auto Prepare") && !given.ContainsKey("MaxAutoPrepare"))
        {
            builder.MaxAutoPrepare = 200;
            builder.AutoPrepareMinUsages = 2;
        }

        var dataSourceBuilder = new NpgsqlDataSourceBuilder(builder.ConnectionString);
        dataSourceBuilder.UseLoggerFactory(loggerFactory);
        return dataSourceBuilder.Build();
    }
}
