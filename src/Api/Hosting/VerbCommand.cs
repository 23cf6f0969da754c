using Capstan.Infrastructure.CommandLine;
using Capstan.Infrastructure.Data;

namespace Capstan.Api.Hosting;

/// <summary><c>dotnet run --project src/Api -- &lt;verb&gt; [arguments]</c> for the verbs areas define
/// (<see cref="ICommandLineVerb"/>): migrates the database, runs the verb and exits with its code.</summary>
public static class VerbCommand
{
    public static ICommandLineVerb? Find(WebApplication app, string[] args) =>
        args.Length == 0 ? null : app.Services.GetServices<ICommandLineVerb>().FirstOrDefault(verb => verb.Name == args[0]);

    public static async Task<int> RunAsync(WebApplication app, ICommandLineVerb verb, string[] args)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Capstan.Verb");
        try
        {
            await app.Services.GetRequiredService<Migrator>().MigrateAsync(CancellationToken.None);
            return await verb.RunAsync(app.Services, args[1..], Console.Out, CancellationToken.None);
        }
        catch (Exception exception)
        {
            logger.LogCritical(exception, "{Verb} failed", verb.Name);
            Console.Error.WriteLine($"{verb.Name} failed: {exception.Message}");
            Console.Error.WriteLine($"usage: {verb.Usage}");
            return 1;
        }
        finally
        {
            await app.DisposeAsync();
        }
    }
}
