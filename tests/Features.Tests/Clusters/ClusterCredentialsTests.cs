using System.Security.Cryptography;
using System.Text;
using Capstan.Infrastructure.Clusters;
using Capstan.Infrastructure.Crypto;
using Capstan.Infrastructure.Kubernetes;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Features.Tests.Clusters;

[Collection(ClustersHandlerCollection.Name)]
public sealed class ClusterCredentialsTests(ClustersHandlerFixture fixture) : HandlerTest<ClustersHandlerFixture>(fixture)
{
    private const string Pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    [Fact]
    public void Sealed_credentials_open_only_for_their_cluster()
    {
        var cipher = Fixture.Services.GetRequiredService<EnvelopeCipher>();
        var id = Guid.CreateVersion7();
        var credentials = new ClusterCredentials { Token = "very-secret-token", CaData = Pem };

        var sealedBytes = credentials.Seal(cipher, id);

        Encoding.UTF8.GetString(sealedBytes).ShouldNotContain("very-secret-token");
        ClusterCredentials.Open(cipher, id, sealedBytes).ShouldBe(credentials);
        Should.Throw<CryptographicException>(() => ClusterCredentials.Open(cipher, Guid.CreateVersion7(), sealedBytes));
    }

    [Fact]
    public void Each_auth_type_resolves_to_its_connection()
    {
        var token = new ClusterCredentials { Token = " t0ken ", CaData = Convert.ToBase64String(Encoding.UTF8.GetBytes(Pem)) }.ToConnection(ClusterAuthTypes.Token, "https://k:6443", false, "apps");
        var certificate = new ClusterCredentials { ClientCertData = Pem, ClientKeyData = "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----" }.ToConnection(ClusterAuthTypes.Certificate, "https://k", true, null);
        var oidc = new ClusterCredentials { OidcIssuerUrl = "https://issuer", OidcClientId = "kube", OidcRefreshToken = "r" }.ToConnection(ClusterAuthTypes.Oidc, "https://k", false, null);

        token.BearerToken.ShouldBe("t0ken");
        token.CertificateAuthorityPem.ShouldBe(Pem);
        token.Namespace.ShouldBe("apps");
        certificate.ClientCertificatePem.ShouldBe(Pem);
        certificate.InsecureSkipTlsVerify.ShouldBeTrue();
        oidc.Oidc.ShouldBe(new OidcCredentials("https://issuer", "kube", null, "r", null, null));
    }

    [Theory]
    [InlineData(ClusterAuthTypes.Token, "https://k", "credentials.token is required")]
    [InlineData(ClusterAuthTypes.Certificate, "https://k", "credentials.clientCertData and credentials.clientKeyData are required")]
    [InlineData(ClusterAuthTypes.Oidc, "https://k", "credentials.oidcIssuerUrl and credentials.oidcClientId are required")]
    [InlineData(ClusterAuthTypes.Kubeconfig, null, "credentials.kubeconfig is required")]
    [InlineData(ClusterAuthTypes.Token, "not a url", "server must be the API server's URL")]
    [InlineData(ClusterAuthTypes.ServiceAccount, "https://k", "not running inside a cluster")]
    public void Missing_credentials_are_named(string authType, string? server, string message)
    {
        Should.Throw<FormatException>(() => new ClusterCredentials().ToConnection(authType, server, false, null)).Message.ShouldContain(message);
    }

    [Theory]
    [InlineData("bearer_token", ClusterAuthTypes.Token)]
    [InlineData("service-account", ClusterAuthTypes.ServiceAccount)]
    [InlineData("KubeConfig", ClusterAuthTypes.Kubeconfig)]
    [InlineData("magic", null)]
    public void Auth_type_spellings_normalise(string value, string? expected)
    {
        ClusterAuthTypes.Normalise(value).ShouldBe(expected);
    }

    [Theory]
    [InlineData("1930m", 1.93)]
    [InlineData("2", 2)]
    [InlineData("7908Mi", 8292139008)]
    [InlineData("1.5Gi", 1610612736)]
    [InlineData("100G", 100000000000)]
    [InlineData("1e3", 1000)]
    [InlineData("250u", 0.00025)]
    public void Quantities_parse_to_base_units(string text, double expected)
    {
        KubernetesQuantity.TryParse(text).ShouldBe((decimal)expected);
        KubernetesQuantity.TryParse("lots").ShouldBeNull();
    }
}
