using Microsoft.Extensions.Configuration;

namespace Capstan.Infrastructure.Data;

/// <summary>Where the service keeps what it makes for itself in development (the local cluster, the development
/// master key): <c>Database:LocalDirectory</c>, else <c>.data/</c> at the repository root.</summary>
public static class LocalDataDirectory
{
    public static string Resolve(IConfiguration configuration) =>
        configuration["Database:LocalDirectory"] is { Length: > 0 } configured
            ? configured
            : Path.Combine(FindRepositoryRoot(), ".data");

    private static string FindRepositoryRoot()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
            {
                if (File.Exists(Path.Combine(directory.FullName, "Api.sln")))
                {
                    return directory.FullName;
                }
            }
        }

        return Directory.GetCurrentDirectory();
    }
}
