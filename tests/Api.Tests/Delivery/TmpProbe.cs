using Capstan.Tests.Support;
using Xunit.Abstractions;

namespace Capstan.Api.Tests.Delivery;

public sealed class TmpProbe(ApiFixture fixture, ITestOutputHelper output) : ApiTest(fixture)
{
    [Fact]
    public async Task Probe()
    {
        var response = await Client.GetAsync("/v1/api/workflows");
        output.WriteLine(((int)response.StatusCode).ToString());
        output.WriteLine(Fixture.Logs.All);
    }
}
