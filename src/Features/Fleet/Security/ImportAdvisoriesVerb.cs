using System.Text.Json;
using Capstan.Infrastructure.CommandLine;
using Capstan.Infrastructure.Security;
using MediatR;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Features.Fleet.Security;

/// <summary><c>dotnet run --project src/Api -- import-osv &lt;file-or-directory&gt;...</c>: loads OSV-format JSON files
/// (each one record, an array, or <c>{"vulns": [...]}</c>; directories are searched for <c>*.json</c>) into the local
/// vulnerability feed through <see cref="ImportAdvisories"/>, audited as the <c>system</c> actor <c>import-osv</c>. No network is used.</summary>
internal sealed class ImportAdvisoriesVerb : ICommandLineVerb
{
    public string Name => "import-osv";

    public string Usage => "import-osv <file.json|directory> [more files or directories]";

    public async Task<int> RunAsync(IServiceProvider services, IReadOnlyList<string> arguments, TextWriter output, CancellationToken cancellationToken)
    {
        if (arguments.Count == 0)
        {
            await output.WriteLineAsync($"usage: {Usage}");
            return 2;
        }

        var files = new List<string>();
        foreach (var argument in arguments)
        {
            if (Directory.Exists(argument))
            {
                files.AddRange(Directory.EnumerateFiles(argument, "*.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal));
            }
            else if (File.Exists(argument))
            {
                files.Add(argument);
            }
            else
            {
                await output.WriteLineAsync($"not found: {argument}");
                return 2;
            }
        }

        var records = new List<JsonElement>();
        foreach (var file in files)
        {
            await using var stream = File.OpenRead(file);
            using var document = await JsonDocument.ParseAsync(stream, cancellationToken: cancellationToken);
            records.AddRange(ImportAdvisories.Records(document.RootElement).Select(record => record.Clone()));
        }

        await using var scope = services.CreateAsyncScope();
        var context = scope.ServiceProvider.GetRequiredService<RequestContext>();
        context.RequestId = "cli-import-osv";
        var result = await scope.ServiceProvider.GetRequiredService<IMediator>().Send(new ImportAdvisories.Command(records), cancellationToken);
        await output.WriteLineAsync($"{files.Count} files, {records.Count} records: {result.Imported} imported, {result.Updated} updated, {result.Unchanged} unchanged");
        return 0;
    }
}
