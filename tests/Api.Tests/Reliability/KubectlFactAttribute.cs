namespace Capstan.Api.Tests.Reliability;

/// <summary>A test that needs <c>kubectl</c> (Debian's <c>kubernetes-client</c>, or <c>CAPSTAN_KUBECTL</c>). Skipped,
/// saying why, where none is found, unless <c>CAPSTAN_REQUIRE_KUBECTL=1</c> (set by .ci/run, which installs it) makes a
/// missing kubectl fail.</summary>
public sealed class KubectlFactAttribute : FactAttribute
{
    public KubectlFactAttribute()
    {
        if (Kubectl.Executable is null && Environment.GetEnvironmentVariable("CAPSTAN_REQUIRE_KUBECTL") != "1")
        {
            Skip = "kubectl not found (apt-get install kubernetes-client); .ci/run installs it so this test always runs there";
        }
    }
}

public static class Kubectl
{
    public static string? Executable { get; } =
        Environment.GetEnvironmentVariable("CAPSTAN_KUBECTL")
        ?? (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, "kubectl"))
            .FirstOrDefault(File.Exists);
}
