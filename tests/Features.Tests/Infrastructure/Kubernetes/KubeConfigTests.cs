using System.Text;
using Capstan.Infrastructure.Kubernetes;

namespace Capstan.Features.Tests.Infrastructure.Kubernetes;

public sealed class KubeConfigTests
{
    private const string CaPem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    private static readonly string Config = $"""
        apiVersion: v1
        kind: Config
        current-context: prod
        clusters:
        - name: prod-cluster
          cluster:
            server: https://10.0.0.1:6443
            certificate-authority-data: {Base64(CaPem)}
            tls-server-name: kubernetes.default
        - name: dev-cluster
          cluster:
            server: https://dev.example.com
            insecure-skip-tls-verify: true
        contexts:
        - name: prod
          context:
            cluster: prod-cluster
            user: token-user
            namespace: flux-system
        - name: dev
          context:
            cluster: dev-cluster
            user: cert-user
        users:
        - name: token-user
          user:
            token: abc.def
        - name: cert-user
          user:
            client-certificate-data: {Base64("CERT")}
            client-key-data: {Base64("KEY")}
        """;

    [Fact]
    public void Contexts_are_listed_with_their_servers_and_namespaces()
    {
        var config = KubeConfig.Parse(Config);

        config.CurrentContext.ShouldBe("prod");
        config.Contexts().ShouldBe(
        [
            new KubeContextInfo("prod", "prod-cluster", "token-user", "https://10.0.0.1:6443", "flux-system", true),
            new KubeContextInfo("dev", "dev-cluster", "cert-user", "https://dev.example.com", null, false),
        ]);
    }

    [Fact]
    public void The_current_context_resolves_to_token_and_ca()
    {
        var connection = KubeConfig.Parse(Config).ToConnection();

        connection.Server.ShouldBe(new Uri("https://10.0.0.1:6443"));
        connection.BearerToken.ShouldBe("abc.def");
        connection.CertificateAuthorityPem.ShouldBe(CaPem);
        connection.TlsServerName.ShouldBe("kubernetes.default");
        connection.Namespace.ShouldBe("flux-system");
        connection.InsecureSkipTlsVerify.ShouldBeFalse();
        connection.Describe().ShouldBe("token");
    }

    [Fact]
    public void A_named_context_resolves_to_client_certificate_and_insecure_flag()
    {
        var connection = KubeConfig.Parse(Config).ToConnection("dev");

        connection.ClientCertificatePem.ShouldBe("CERT");
        connection.ClientKeyPem.ShouldBe("KEY");
        connection.InsecureSkipTlsVerify.ShouldBeTrue();
        connection.Describe().ShouldBe("certificate");
    }

    [Fact]
    public void Oidc_auth_providers_are_read()
    {
        var config = KubeConfig.Parse("""
            apiVersion: v1
            kind: Config
            clusters: [{name: c, cluster: {server: "https://k"}}]
            contexts: [{name: x, context: {cluster: c, user: u}}]
            users:
            - name: u
              user:
                auth-provider:
                  name: oidc
                  config:
                    idp-issuer-url: https://issuer.example.com
                    client-id: kube
                    refresh-token: r1
            """);

        config.ToConnection().Oidc.ShouldBe(new OidcCredentials("https://issuer.example.com", "kube", null, "r1", null, null));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("kind: Pod\napiVersion: v1\nclusters: []\ncontexts: []", "kind: Config")]
    [InlineData("apiVersion: v1\nkind: Config\ncontexts: [{name: a, context: {cluster: c}}]", "no clusters")]
    [InlineData("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://k'}}]", "no contexts")]
    [InlineData("apiVersion: v1\nkind: Config\nclusters: [{name: c}, {name: c}]\ncontexts: [{name: a}]", "twice")]
    [InlineData("a: [", "not valid YAML")]
    public void Broken_kubeconfigs_say_what_is_wrong(string text, string expected)
    {
        Should.Throw<FormatException>(() => KubeConfig.Parse(text)).Message.ShouldContain(expected);
    }

    [Theory]
    [InlineData("user: {exec: {command: aws}}", "exec credential plugin")]
    [InlineData("user: {client-key: /etc/kubernetes/pki/admin.key, client-certificate: /x}", "file on this machine")]
    [InlineData("user: {tokenFile: /var/run/token}", "file on this machine")]
    [InlineData("user: {token: t, auth-provider: {name: gcp}}", "not supported")]
    public void Uploaded_kubeconfigs_may_not_run_plugins_or_read_files(string user, string expected)
    {
        var config = KubeConfig.Parse($$$"""
            apiVersion: v1
            kind: Config
            clusters: [{name: c, cluster: {server: "https://k"}}]
            contexts: [{name: x, context: {cluster: c, user: u}}]
            users:
            - name: u
              {{{user}}}
            """);

        Should.Throw<FormatException>(() => config.ToConnection()).Message.ShouldContain(expected);
    }

    [Fact]
    public void Unknown_contexts_clusters_and_bad_servers_are_named()
    {
        var config = KubeConfig.Parse("""
            apiVersion: v1
            kind: Config
            clusters: [{name: c, cluster: {server: "ftp://k"}}]
            contexts: [{name: x, context: {cluster: c}}, {name: y, context: {cluster: missing}}]
            """);

        Should.Throw<FormatException>(() => config.ToConnection("nope")).Message.ShouldContain("no context named 'nope'");
        Should.Throw<FormatException>(() => config.ToConnection("y")).Message.ShouldContain("cluster 'missing'");
        Should.Throw<FormatException>(() => config.ToConnection("x")).Message.ShouldContain("invalid server URL");
    }

    private static string Base64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));
}
