using Capstan.Infrastructure.Kubernetes;
using Capstan.Tests.Support.Kubernetes;

namespace Capstan.Features.Tests.Infrastructure.Kubernetes;

/// <summary>The ways a kubeconfig authenticates, each against a fake API server that demands it.</summary>
public sealed class KubernetesAuthenticationTests
{
    [Fact]
    public async Task Bearer_tokens_are_sent_and_a_refused_token_is_a_503_about_credentials()
    {
        await using var api = await FakeKubernetesApi.StartAsync(new FakeKubernetesOptions { Token = "s3cret-token", SeedFixtures = false });
        using var good = new KubernetesClient(KubeConfig.Parse(api.Kubeconfig()).ToConnection(), "secured");
        using var bad = new KubernetesClient(KubeConfig.Parse(api.Kubeconfig(token: "wrong")).ToConnection(), "secured");

        (await good.GetVersionAsync(CancellationToken.None))["gitVersion"].ShouldNotBeNull();
        var refused = await Should.ThrowAsync<KubernetesApiException>(() => bad.GetVersionAsync(CancellationToken.None));

        api.Requests[0].Authorization.ShouldBe("Bearer s3cret-token");
        refused.StatusCode.ShouldBe(503);
        refused.KubernetesStatusCode.ShouldBe(401);
        refused.Message.ShouldBe("Cluster 'secured' rejected the stored credentials (401 Unauthorized); update the cluster's credentials");
        refused.Message.ShouldNotContain("wrong");
    }

    [Fact]
    public async Task Tls_with_the_clusters_ca_and_a_client_certificate()
    {
        await using var api = await FakeKubernetesApi.StartAsync(new FakeKubernetesOptions { Tls = true, RequireClientCertificate = true, SeedFixtures = false });
        using var client = new KubernetesClient(KubeConfig.Parse(api.Kubeconfig()).ToConnection(), "tls");

        var version = await client.GetVersionAsync(CancellationToken.None);

        api.BaseUrl.ShouldStartWith("https://");
        version["gitVersion"]!.GetValue<string>().ShouldBe("v1.30.4");
    }

    [Fact]
    public async Task A_server_certificate_from_another_ca_is_refused_unless_insecure()
    {
        await using var api = await FakeKubernetesApi.StartAsync(new FakeKubernetesOptions { Tls = true, SeedFixtures = false });
        var otherCa = FakeCertificates.Create().CaPem;
        using var untrusting = new KubernetesClient(new ClusterConnection { Server = new Uri(api.BaseUrl), CertificateAuthorityPem = otherCa }, "tls");
        using var insecure = new KubernetesClient(new ClusterConnection { Server = new Uri(api.BaseUrl), InsecureSkipTlsVerify = true }, "tls");

        var refused = await Should.ThrowAsync<KubernetesApiException>(() => untrusting.GetVersionAsync(CancellationToken.None));
        var version = await insecure.GetVersionAsync(CancellationToken.None);

        refused.StatusCode.ShouldBe(503);
        refused.Message.ShouldContain("TLS handshake failed");
        version["gitVersion"].ShouldNotBeNull();
    }

    [Fact]
    public async Task Oidc_refreshes_the_id_token_once_and_reuses_it()
    {
        await using var api = await FakeKubernetesApi.StartAsync(new FakeKubernetesOptions { SeedFixtures = false, Token = "not-this-one" });
        api.OidcRefreshToken = "refresh-1";
        var connection = new ClusterConnection { Server = new Uri(api.BaseUrl), Oidc = new OidcCredentials(api.OidcIssuer, "kubernetes", "client-secret", "refresh-1", null, null) };
        using var client = new KubernetesClient(connection, "oidc");

        await client.GetVersionAsync(CancellationToken.None);
        await client.GetVersionAsync(CancellationToken.None);

        api.OidcRefreshes.ShouldBe(1);
        api.RequestsTo("GET", "/version").Select(request => request.Authorization).Distinct().Single()!.ShouldStartWith("Bearer eyJ");
        var form = api.RequestsTo("POST", "/oidc/token").Single().Body;
        form.ShouldContain("grant_type=refresh_token");
        form.ShouldContain("client_id=kubernetes");
    }

    [Fact]
    public async Task A_refused_oidc_refresh_is_a_503()
    {
        await using var api = await FakeKubernetesApi.StartAsync(new FakeKubernetesOptions { SeedFixtures = false, Token = "x" });
        api.OidcRefreshToken = "the-real-one";
        using var client = new KubernetesClient(new ClusterConnection { Server = new Uri(api.BaseUrl), Oidc = new OidcCredentials(api.OidcIssuer, "k", null, "stale", null, null) }, "oidc");

        var failure = await Should.ThrowAsync<KubernetesApiException>(() => client.GetVersionAsync(CancellationToken.None));

        failure.StatusCode.ShouldBe(503);
        failure.Message.ShouldContain("refused to refresh the token");
    }

    [Fact]
    public void The_pool_reuses_clients_until_credentials_change_or_it_is_cleared()
    {
        using var pool = new KubernetesClientPool(new KubernetesClientOptions(), TimeProvider.System);
        var connection = new ClusterConnection { Server = new Uri("https://k.example.com") };
        var connects = 0;
        ClusterConnection Connect()
        {
            connects++;
            return connection;
        }

        var first = pool.Get("cluster-1", "v1", "one", Connect);
        var again = pool.Get("cluster-1", "v1", "one", Connect);
        var rotated = pool.Get("cluster-1", "v2", "one", Connect);
        pool.Get("cluster-2", "v1", "two", Connect);

        again.ShouldBeSameAs(first);
        rotated.ShouldNotBeSameAs(first);
        connects.ShouldBe(3);
        pool.Stats.ShouldBe(new KubernetesPoolStats(2, 3, 1, 1, null));
        pool.Clear().ShouldBe(2);
        pool.Stats.Clients.ShouldBe(0);
        pool.Stats.LastClearedAt.ShouldNotBeNull();
        pool.Get("cluster-1", "v2", "one", Connect).ShouldNotBeSameAs(rotated);
    }
}
