namespace Capstan.Tests.Support;

/// <summary>The repository the tests were built from (the directory holding Api.sln), for tests that read its
/// files: the built service, deploy/ manifests, the slices' sources.</summary>
public static class RepositoryFiles
{
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Api.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("Api.sln not found above " + AppContext.BaseDirectory);
    }
}
