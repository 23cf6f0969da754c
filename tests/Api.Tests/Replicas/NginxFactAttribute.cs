namespace Capstan.Api.Tests.Replicas;

/// <summary>A test that needs nginx in front of the replicas. Skipped, saying why, where nginx is not installed, unless
/// <c>CAPSTAN_REQUIRE_NGINX=1</c> (set by .ci/run, which installs it) makes a missing nginx fail.</summary>
public sealed class NginxFactAttribute : FactAttribute
{
    public NginxFactAttribute()
    {
        if (NginxBalancer.Binary() is null && Environment.GetEnvironmentVariable("CAPSTAN_REQUIRE_NGINX") != "1")
        {
            Skip = "nginx not found (apt-get install nginx-light); .ci/run installs it so this test always runs there";
        }
    }
}
