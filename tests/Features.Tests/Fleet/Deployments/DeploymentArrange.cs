using Capstan.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Features.Tests.Fleet.Deployments;

/// <summary>Arrange-helpers of the deployment handler tests. The fleet handler fixture configures no sindri CLI (so
/// creating a deployment is a 503 there); <see cref="SindriConfigured"/> points <c>Sindri:CliPath</c> at an
/// executable for one test and puts the setting back after. Background jobs are off in tests, so nothing runs it.</summary>
internal static class DeploymentArrange
{
    public static IDisposable SindriConfigured(this ApiFixture fixture) => new Setting(fixture.Services.GetRequiredService<IConfiguration>(), "Sindri:CliPath", "/bin/true");

    private sealed class Setting : IDisposable
    {
        private readonly IConfiguration _configuration;
        private readonly string _key;
        private readonly string? _before;

        public Setting(IConfiguration configuration, string key, string value)
        {
            _configuration = configuration;
            _key = key;
            _before = configuration[key];
            configuration[key] = value;
        }

        public void Dispose() => _configuration[_key] = _before;
    }
}
