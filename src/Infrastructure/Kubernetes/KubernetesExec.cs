using System.Net.Security;
using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;

namespace Capstan.Infrastructure.Kubernetes;

/// <summary>One frame of an exec session: the channel (1 stdout, 2 stderr, 3 the final Status) and its bytes.</summary>
public readonly record struct ExecFrame(int Channel, byte[] Data)
{
    public const int Stdin = 0;
    public const int Stdout = 1;
    public const int Stderr = 2;
    public const int Error = 3;
    public const int Resize = 4;

    public string Text => Encoding.UTF8.GetString(Data);
}

/// <summary>
/// A command running in a pod container over the Kubernetes exec subprotocol (WebSocket to
/// <c>/api/v1/namespaces/{ns}/pods/{pod}/exec</c>, <c>v5.channel.k8s.io</c> or <c>v4.channel.k8s.io</c>): every binary
/// message starts with its channel byte — 0 stdin, 1 stdout, 2 stderr, 3 the final <c>Status</c>, 4 terminal resize
/// (<c>{"Width","Height"}</c>). Authenticates as the cluster's connection does (bearer token, token file, OIDC, basic,
/// client certificate) and verifies the server against the cluster's CA.
/// </summary>
public sealed class KubernetesExec : IAsyncDisposable
{
    public static readonly string[] Protocols = ["v5.channel.k8s.io", "v4.channel.k8s.io"];

    private readonly ClientWebSocket _socket;
    private readonly SemaphoreSlim _send = new(1, 1);

    private KubernetesExec(ClientWebSocket socket) => _socket = socket;

    public string? Protocol => _socket.SubProtocol;

    public static async Task<KubernetesExec> ConnectAsync(
        ClusterConnection connection, string clusterName, string @namespace, string pod, string? container, IReadOnlyList<string> command, bool tty, CancellationToken cancellationToken)
    {
        var query = new List<(string, string?)> { ("container", container), ("stdin", "true"), ("stdout", "true"), ("stderr", tty ? null : "true"), ("tty", tty ? "true" : null) };
        query.AddRange(command.Select(part => ("command", (string?)part)));
        var server = connection.Server;
        var scheme = server.Scheme == "https" ? "wss" : "ws";
        var path = server.AbsolutePath.TrimEnd('/') + KubernetesResourceType.Pods.ItemPath(@namespace, pod, "exec") + KubernetesClient.Query([.. query]);
        var uri = new Uri($"{scheme}://{server.Authority}{path}");
        var socket = new ClientWebSocket();
        foreach (var protocol in Protocols)
        {
            socket.Options.AddSubProtocol(protocol);
        }

        socket.Options.KeepAliveInterval = TimeSpan.FromSeconds(30);
        if (await AuthorizationAsync(connection, clusterName, cancellationToken) is { } authorization)
        {
            socket.Options.SetRequestHeader("Authorization", authorization);
        }

        if (connection is { ClientCertificatePem: { } certificatePem, ClientKeyPem: { } keyPem })
        {
            using var pem = X509Certificate2.CreateFromPem(certificatePem, keyPem);
            socket.Options.ClientCertificates = [X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null)];
        }

        if (connection.InsecureSkipTlsVerify)
        {
            socket.Options.RemoteCertificateValidationCallback = (_, _, _, _) => true;
        }
        else if (connection.CertificateAuthorityPem is { Length: > 0 } caPem)
        {
            var roots = new X509Certificate2Collection();
            roots.ImportFromPem(caPem);
            socket.Options.RemoteCertificateValidationCallback = (_, certificate, _, errors) => Trusted(roots, certificate, errors);
        }

        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(TimeSpan.FromSeconds(15));
            await socket.ConnectAsync(uri, deadline.Token);
        }
        catch (WebSocketException exception)
        {
            socket.Dispose();
            var status = socket.HttpStatusCode;
            throw status switch
            {
                System.Net.HttpStatusCode.NotFound => new KubernetesApiException(404, $"Pod '{pod}' was not found in cluster '{clusterName}'", 404, "NotFound"),
                System.Net.HttpStatusCode.Forbidden => new KubernetesApiException(403, $"Cluster '{clusterName}' denied exec into pod '{pod}'", 403, "Forbidden"),
                System.Net.HttpStatusCode.BadRequest => new KubernetesApiException(400, $"Cluster '{clusterName}' refused exec into pod '{pod}' (is the container name right?)", 400, "BadRequest"),
                _ => KubernetesApiException.Unreachable(clusterName, new HttpRequestException(exception.Message, exception)),
            };
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw KubernetesApiException.TimedOut(clusterName, TimeSpan.FromSeconds(15), "exec");
        }

        return new KubernetesExec(socket);
    }

    public Task SendStdinAsync(string text, CancellationToken cancellationToken) => SendAsync(ExecFrame.Stdin, Encoding.UTF8.GetBytes(text), cancellationToken);

    public Task ResizeAsync(int columns, int rows, CancellationToken cancellationToken) =>
        SendAsync(ExecFrame.Resize, Encoding.UTF8.GetBytes(new JsonObject { ["Width"] = columns, ["Height"] = rows }.ToJsonString()), cancellationToken);

    /// <summary>Frames from the container until it exits (after the Status on channel 3) or the socket closes.</summary>
    public async IAsyncEnumerable<ExecFrame> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var buffer = new byte[16 * 1024];
        while (_socket.State == WebSocketState.Open)
        {
            using var message = new MemoryStream();
            WebSocketReceiveResult result;
            try
            {
                do
                {
                    result = await _socket.ReceiveAsync(buffer, cancellationToken);
                    message.Write(buffer, 0, result.Count);
                }
                while (!result.EndOfMessage);
            }
            catch (WebSocketException)
            {
                yield break;
            }

            if (result.MessageType == WebSocketMessageType.Close)
            {
                yield break;
            }

            var bytes = message.ToArray();
            if (bytes.Length > 0 && bytes[0] <= ExecFrame.Resize)
            {
                yield return new ExecFrame(bytes[0], bytes[1..]);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_socket.State == WebSocketState.Open)
            {
                using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", deadline.Token);
            }
        }
        catch (Exception exception) when (exception is WebSocketException or OperationCanceledException)
        {
            // The other side is gone already.
        }

        _socket.Dispose();
        _send.Dispose();
    }

    private async Task SendAsync(int channel, byte[] data, CancellationToken cancellationToken)
    {
        var frame = new byte[data.Length + 1];
        frame[0] = (byte)channel;
        data.CopyTo(frame, 1);
        await _send.WaitAsync(cancellationToken);
        try
        {
            await _socket.SendAsync(frame, WebSocketMessageType.Binary, endOfMessage: true, cancellationToken);
        }
        finally
        {
            _send.Release();
        }
    }

    private static async Task<string?> AuthorizationAsync(ClusterConnection connection, string clusterName, CancellationToken cancellationToken)
    {
        if (connection.Oidc is { } oidc)
        {
            using var source = new OidcTokenSource(oidc, clusterName);
            return "Bearer " + await source.GetTokenAsync(cancellationToken);
        }

        if (connection.TokenFile is { } file)
        {
            return "Bearer " + (await File.ReadAllTextAsync(file, cancellationToken)).Trim();
        }

        if (connection.BearerToken is { Length: > 0 } token)
        {
            return "Bearer " + token;
        }

        return connection.Username is { Length: > 0 } username
            ? "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{username}:{connection.Password}"))
            : null;
    }

    private static bool Trusted(X509Certificate2Collection roots, X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch) || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        var leaf = certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return chain.Build(leaf);
    }
}
