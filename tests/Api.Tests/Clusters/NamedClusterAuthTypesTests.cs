using System.Net;
using System.Net.Http.Json;
using System.Text;
using Capstan.Infrastructure.Clusters;
using Capstan.Infrastructure.Crypto;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Api.Tests.Clusters;

/// <summary>Seed 002's registration with the auth types beyond token and kubeconfig (certificate, service account,
/// OIDC), end to end against fake API servers that demand exactly that credential: the response fields, the sealed
/// credentials, and a connection test made with the stored credential, which no response ever shows.</summary>
public sealed class NamedClusterAuthTypesTests(ClustersFixture fixture, FakeKubernetesFixture fake) : ClustersTest(fixture, fake)
{
    [Fact]
    public async Task Add_with_a_client_certificate_connects_over_tls_and_tests_with_it()
    {
        await using var tls = await FakeKubernetesApi.StartAsync(new FakeKubernetesOptions { Tls = true, RequireClientCertificate = true });
        var pki = tls.Certificates!;
        var (developer, user) = await Fixture.ClientAsAsync(BaseRole.Developer);
        var secrets = new[] { Base64(pki.ClientKeyPem), KeyBody(pki.ClientKeyPem), Base64(pki.ClientCertificatePem) };

        var added = await developer.PostAsJsonAsync("/v1/api/clusters", new
        {
            name = "tls-cert",
            server = tls.BaseUrl,
            authType = "certificate",
            credentials = new { clientCertData = Base64(pki.ClientCertificatePem), clientKeyData = Base64(pki.ClientKeyPem), caData = Base64(pki.CaPem) },
        });

        var body = await added.ShouldBeJsonAsync(HttpStatusCode.Created);
        body.GetProperty("status").GetString().ShouldBe("connected");
        body.GetProperty("version").GetString().ShouldBe("v1.30.4");
        body.GetProperty("server").GetString().ShouldBe(tls.BaseUrl);
        var cluster = body.GetProperty("cluster");
        cluster.GetProperty("authType").GetString().ShouldBe("certificate");
        cluster.GetProperty("userId").GetGuid().ShouldBe(user.Id);
        cluster.GetProperty("metadata").GetProperty("nodeCount").GetInt32().ShouldBe(2);
        tls.BaseUrl.ShouldStartWith("https://");
        tls.Requests.ShouldContain(request => request.Path == "/version");
        tls.Requests.ShouldAllBe(request => request.Authorization == string.Empty, "the certificate authenticates, not a header");

        var stored = await OpenStoredAsync("tls-cert");
        stored.ShouldBe(new ClusterCredentials { ClientCertData = Base64(pki.ClientCertificatePem), ClientKeyData = Base64(pki.ClientKeyPem), CaData = Base64(pki.CaPem) });

        tls.ClearRequests();
        var tested = await developer.PostAsync("/v1/api/clusters/tls-cert/test", null);
        (await tested.ShouldBeJsonAsync()).GetProperty("status").GetString().ShouldBe("healthy");
        tls.Requests.ShouldContain(request => request.Path == "/version");
        await ShouldNeverShowAsync(developer, "tls-cert", secrets, added, tested);
    }

    [Fact]
    public async Task A_client_certificate_the_cluster_does_not_trust_is_saved_but_not_connected()
    {
        await using var tls = await FakeKubernetesApi.StartAsync(new FakeKubernetesOptions { Tls = true, RequireClientCertificate = true, SeedFixtures = false });
        var foreign = FakeCertificates.Create("intruder");
        var (developer, _) = await Fixture.ClientAsAsync(BaseRole.Developer);

        var body = await (await developer.PostAsJsonAsync("/v1/api/clusters", new
        {
            name = "untrusted-cert",
            server = tls.BaseUrl,
            authType = "certificate",
            credentials = new { clientCertData = foreign.ClientCertificatePem, clientKeyData = foreign.ClientKeyPem, caData = tls.Certificates!.CaPem },
        })).ShouldBeJsonAsync(HttpStatusCode.Created);

        body.GetProperty("status").GetString().ShouldNotBe("connected");
        body.GetProperty("cluster").GetProperty("lastError").GetString().ShouldNotBeNullOrEmpty();
        await (await developer.PostAsync("/v1/api/clusters/untrusted-cert/test", null)).ShouldBeErrorAsync(HttpStatusCode.ServiceUnavailable);
    }

    [Fact]
    public async Task Add_with_a_service_account_token_sends_it_as_the_bearer()
    {
        await using var secured = await FakeKubernetesApi.StartAsync(new FakeKubernetesOptions { Token = "sa-token-5f1e9c" });
        var (developer, user) = await Fixture.ClientAsAsync(BaseRole.Developer);

        var added = await developer.PostAsJsonAsync("/v1/api/clusters", new
        {
            name = "by-service-account",
            server = secured.BaseUrl,
            authType = "service_account",
            credentials = new { token = "sa-token-5f1e9c" },
            @namespace = "apps",
        });

        var body = await added.ShouldBeJsonAsync(HttpStatusCode.Created);
        body.GetProperty("status").GetString().ShouldBe("connected");
        body.GetProperty("version").GetString().ShouldBe("v1.30.4");
        var cluster = body.GetProperty("cluster");
        cluster.GetProperty("authType").GetString().ShouldBe("serviceaccount");
        cluster.GetProperty("server").GetString().ShouldBe(secured.BaseUrl);
        cluster.GetProperty("userId").GetGuid().ShouldBe(user.Id);
        secured.Requests.ShouldContain(request => request.Path == "/version" && request.Authorization == "Bearer sa-token-5f1e9c");
        (await OpenStoredAsync("by-service-account")).ShouldBe(new ClusterCredentials { Token = "sa-token-5f1e9c" });
        (await Fixture.ScalarAsync<string>("SELECT namespace FROM clusters.clusters")).ShouldBe("apps");

        secured.ClearRequests();
        var tested = await developer.PostAsync("/v1/api/clusters/by-service-account/test", null);
        (await tested.ShouldBeJsonAsync()).GetProperty("status").GetString().ShouldBe("healthy");
        secured.Requests.ShouldNotBeEmpty();
        secured.Requests.ShouldAllBe(request => request.Authorization == "Bearer sa-token-5f1e9c");
        await ShouldNeverShowAsync(developer, "by-service-account", ["sa-token-5f1e9c"], added, tested);
    }

    [Fact]
    public async Task Add_with_oidc_refreshes_an_id_token_and_uses_it()
    {
        await using var secured = await FakeKubernetesApi.StartAsync(new FakeKubernetesOptions { Token = "not-the-oidc-token" });
        secured.OidcRefreshToken = "oidc-refresh-8d2a";
        var (developer, user) = await Fixture.ClientAsAsync(BaseRole.Developer);

        var added = await developer.PostAsJsonAsync("/v1/api/clusters", new
        {
            name = "by-oidc",
            server = secured.BaseUrl,
            authType = "oidc",
            credentials = new
            {
                oidcIssuerUrl = secured.OidcIssuer,
                oidcClientId = "kubernetes",
                oidcClientSecret = "oidc-client-secret-41b7",
                oidcRefreshToken = "oidc-refresh-8d2a",
                oidcScopes = "openid,groups",
            },
        });

        var body = await added.ShouldBeJsonAsync(HttpStatusCode.Created);
        body.GetProperty("status").GetString().ShouldBe("connected");
        body.GetProperty("version").GetString().ShouldBe("v1.30.4");
        var cluster = body.GetProperty("cluster");
        cluster.GetProperty("authType").GetString().ShouldBe("oidc");
        cluster.GetProperty("userId").GetGuid().ShouldBe(user.Id);
        var refresh = secured.RequestsTo("POST", "/oidc/token").First().Body;
        refresh.ShouldContain("grant_type=refresh_token");
        refresh.ShouldContain("refresh_token=oidc-refresh-8d2a");
        refresh.ShouldContain("client_id=kubernetes");
        refresh.ShouldContain("client_secret=oidc-client-secret-41b7");
        refresh.ShouldContain("scope=openid+groups");
        ShouldUseIssuedIdTokens(secured);
        (await OpenStoredAsync("by-oidc")).ShouldBe(new ClusterCredentials
        {
            OidcIssuerUrl = secured.OidcIssuer,
            OidcClientId = "kubernetes",
            OidcClientSecret = "oidc-client-secret-41b7",
            OidcRefreshToken = "oidc-refresh-8d2a",
            OidcScopes = "openid,groups",
        });

        secured.ClearRequests();
        var refreshes = secured.OidcRefreshes;
        var tested = await developer.PostAsync("/v1/api/clusters/by-oidc/test", null);
        (await tested.ShouldBeJsonAsync()).GetProperty("status").GetString().ShouldBe("healthy");
        secured.OidcRefreshes.ShouldBeGreaterThan(refreshes, "the test opens the stored credentials and refreshes with them");
        ShouldUseIssuedIdTokens(secured);
        var idTokens = secured.AcceptedTokens.ToArray();
        await ShouldNeverShowAsync(developer, "by-oidc", ["oidc-refresh-8d2a", "oidc-client-secret-41b7", .. idTokens], added, tested);
    }

    private static void ShouldUseIssuedIdTokens(FakeKubernetesApi api)
    {
        var calls = api.Requests.Where(request => !request.Path.StartsWith("/oidc", StringComparison.Ordinal)).ToList();
        calls.ShouldNotBeEmpty();
        foreach (var call in calls)
        {
            call.Authorization.ShouldStartWith("Bearer eyJ", Case.Sensitive, call.ToString());
            api.AcceptedTokens.ShouldContain(call.Authorization!.Substring(7), call.ToString());
        }
    }

    private async Task<ClusterCredentials> OpenStoredAsync(string name)
    {
        var (id, sealedCredentials) = (await Fixture.QueryAsync<(Guid Id, byte[] Credentials)>("SELECT id, credentials FROM clusters.clusters WHERE name = @Name", new { Name = name })).Single();
        return ClusterCredentials.Open(Fixture.Services.GetRequiredService<EnvelopeCipher>(), id, sealedCredentials);
    }

    /// <summary>No answer (the ones given, get, list, status, logs) and no stored row shows any of
    /// <paramref name="secrets"/> in clear.</summary>
    private async Task ShouldNeverShowAsync(HttpClient client, string name, string[] secrets, params HttpResponseMessage[] earlier)
    {
        var texts = new List<string>();
        foreach (var response in earlier)
        {
            texts.Add(await response.Content.ReadAsStringAsync());
        }

        foreach (var url in new[] { $"/v1/api/clusters/{name}", "/v1/api/clusters", $"/v1/api/clusters/{name}/status", $"/v1/api/clusters/{name}/logs" })
        {
            using var response = await client.GetAsync(url);
            texts.Add(await response.Content.ReadAsStringAsync());
            response.StatusCode.ShouldBe(HttpStatusCode.OK, url);
        }

        var stored = await Fixture.StoredRowsAsTextAsync("clusters");
        foreach (var secret in secrets)
        {
            texts.ShouldAllBe(text => !text.Contains(secret, StringComparison.Ordinal));
            stored.ShouldNotContain(secret);
        }
    }

    private static string Base64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    /// <summary>A line from the middle of a PEM key (what would show if the key leaked as PEM).</summary>
    private static string KeyBody(string pem) => pem.Split('\n')[3];
}
