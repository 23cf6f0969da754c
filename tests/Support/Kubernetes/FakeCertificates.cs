using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Capstan.Tests.Support.Kubernetes;

/// <summary>A throw-away PKI like a kubeadm cluster's: a CA, a server certificate for 127.0.0.1/localhost and a
/// client certificate, all signed by the CA, as PEM (for kubeconfigs) and as usable certificates (for Kestrel).</summary>
public sealed class FakeCertificates
{
    private FakeCertificates(X509Certificate2 ca, X509Certificate2 server, string caPem, string clientCertificatePem, string clientKeyPem)
    {
        Ca = ca;
        Server = server;
        CaPem = caPem;
        ClientCertificatePem = clientCertificatePem;
        ClientKeyPem = clientKeyPem;
    }

    public X509Certificate2 Ca { get; }

    public X509Certificate2 Server { get; }

    public string CaPem { get; }

    public string ClientCertificatePem { get; }

    public string ClientKeyPem { get; }

    public static FakeCertificates Create(string clientName = "capstan-test")
    {
        using var caKey = RSA.Create(2048);
        var caRequest = new CertificateRequest("CN=fake-kubernetes-ca", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        var notBefore = DateTimeOffset.UtcNow.AddDays(-1);
        var notAfter = DateTimeOffset.UtcNow.AddDays(30);
        using var ca = caRequest.CreateSelfSigned(notBefore, notAfter);

        using var serverKey = RSA.Create(2048);
        var serverRequest = new CertificateRequest("CN=kube-apiserver", serverKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        serverRequest.CertificateExtensions.Add(names.Build());
        serverRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var serverPublic = serverRequest.Create(ca, notBefore, notAfter.AddDays(-1), RandomNumberGenerator.GetBytes(8));
        using var serverWithKey = serverPublic.CopyWithPrivateKey(serverKey);
        var server = X509CertificateLoader.LoadPkcs12(serverWithKey.Export(X509ContentType.Pkcs12), null);

        using var clientKey = RSA.Create(2048);
        var clientRequest = new CertificateRequest($"CN={clientName}, O=system:masters", clientKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        clientRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        using var client = clientRequest.Create(ca, notBefore, notAfter.AddDays(-1), RandomNumberGenerator.GetBytes(8));

        return new FakeCertificates(
            X509CertificateLoader.LoadCertificate(ca.RawData),
            server,
            ca.ExportCertificatePem(),
            client.ExportCertificatePem(),
            clientKey.ExportPkcs8PrivateKeyPem());
    }

    /// <summary>True when <paramref name="certificate"/> chains to this CA.</summary>
    public bool Issued(X509Certificate2 certificate)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(Ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    }
}
