namespace Capstan.Api.Tests.Docs;

/// <summary>A test that needs headless Chromium (Debian's <c>chromium</c>). Skipped, saying why, where it is not
/// installed, unless <c>CAPSTAN_REQUIRE_CHROMIUM=1</c> (set by .ci/run, which installs it) makes a missing browser fail.</summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public ChromiumFactAttribute()
    {
        if (Chromium.Executable is null && Environment.GetEnvironmentVariable("CAPSTAN_REQUIRE_CHROMIUM") != "1")
        {
            Skip = "Chromium not found (apt-get install chromium); .ci/run installs it so this test always runs there";
        }
    }
}

public static class Chromium
{
    public static string? Executable { get; } =
        new[] { Environment.GetEnvironmentVariable("CHROMIUM_PATH"), "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome" }
            .FirstOrDefault(path => !string.IsNullOrEmpty(path) && File.Exists(path));
}
