using Capstan.Infrastructure.Data;

namespace Capstan.Api.Hosting;

/// <summary><c>dotnet run --project src/Api -- migrate</c>: applies pending migrations and exits (0 on success).</summary>
public static class MigrateCommand
{
    public static bool IsRequested(string[] args) => args.Length > 0 && args[0] == "migrate";

    public static async Task<int> RunAsync(WebApplication app)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Capstan.Migrate");
        try
        {
            var result = await app.Services.GetRequiredService<Migrator>().MigrateAsync(CancellationToken.None);
            logger.LogInformation("Migrations: {Applied} applied now, {Existing} already applied", result.Applied.Count, result.AlreadyApplied);
            Console.WriteLine($"migrations applied: {result.Applied.Count}, already applied: {result.AlreadyApplied}");
            return 0;
        }
        catch (Exception exception)
        {
            logger.LogCritical(exception, "Migration failed");
            Console.Error.WriteLine($"migration failed: {exception.Message}");
            return 1;
        }
        finally
        {
            await app.DisposeAsync();
        }
    }
}
