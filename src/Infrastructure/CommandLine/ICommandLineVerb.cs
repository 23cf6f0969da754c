namespace Capstan.Infrastructure.CommandLine;

/// <summary>
/// A one-shot administrative verb of the service's command line (<c>dotnet run --project src/Api -- &lt;name&gt;
/// [arguments]</c>), like <c>migrate</c>: found by assembly scan beside the slices of its area, run after the host is
/// built and the database migrated, with a scope of its own; the process exits with the returned code.
/// </summary>
public interface ICommandLineVerb
{
    /// <summary>The first command-line argument that selects this verb.</summary>
    string Name { get; }

    /// <summary>One line of usage, printed when the arguments are wrong.</summary>
    string Usage { get; }

    Task<int> RunAsync(IServiceProvider services, IReadOnlyList<string> arguments, TextWriter output, CancellationToken cancellationToken);
}
