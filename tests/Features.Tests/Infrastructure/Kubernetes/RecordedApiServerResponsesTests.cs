using System.Net;
using System.Text;
using Capstan.Infrastructure.Kubernetes;

namespace Capstan.Features.Tests.Infrastructure.Kubernetes;

/// <summary>
/// The client against bodies exactly as real API servers write them (Status objects of kube-apiserver 1.28-1.31 and a
/// proxy's HTML page), and against the watch wire format in awkward chunkings. The bodies follow the apimachinery
/// Status shape field for field; no test cluster was available to capture them live.
/// </summary>
public sealed class RecordedApiServerResponsesTests
{
    public static TheoryData<int, string, int, string> StatusBodies => new()
    {
        {
            404,
            """{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"kustomizations.kustomize.toolkit.fluxcd.io \"nope\" not found","reason":"NotFound","details":{"name":"nope","group":"kustomize.toolkit.fluxcd.io","kind":"kustomizations"},"code":404}""",
            404,
            "kustomizations.kustomize.toolkit.fluxcd.io \"nope\" not found"
        },
        {
            404,
            """{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server could not find the requested resource","reason":"NotFound","details":{},"code":404}""",
            404,
            "the server could not find the requested resource"
        },
        {
            409,
            """{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"gitrepositories.source.toolkit.fluxcd.io \"podinfo\" already exists","reason":"AlreadyExists","details":{"name":"podinfo","group":"source.toolkit.fluxcd.io","kind":"gitrepositories"},"code":409}""",
            409,
            "gitrepositories.source.toolkit.fluxcd.io \"podinfo\" already exists"
        },
        {
            409,
            """{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Operation cannot be fulfilled on kustomizations.kustomize.toolkit.fluxcd.io \"apps\": the object has been modified; please apply your changes to the latest version and try again","reason":"Conflict","details":{"name":"apps","group":"kustomize.toolkit.fluxcd.io","kind":"kustomizations"},"code":409}""",
            409,
            "Operation cannot be fulfilled on kustomizations.kustomize.toolkit.fluxcd.io \"apps\": the object has been modified; please apply your changes to the latest version and try again"
        },
        {
            403,
            """{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"kustomizations.kustomize.toolkit.fluxcd.io is forbidden: User \"system:serviceaccount:capstan:capstan\" cannot list resource \"kustomizations\" in API group \"kustomize.toolkit.fluxcd.io\" at the cluster scope","reason":"Forbidden","details":{"group":"kustomize.toolkit.fluxcd.io","kind":"kustomizations"},"code":403}""",
            403,
            "Cluster 'prod' denied the request: kustomizations.kustomize.toolkit.fluxcd.io is forbidden: User \"system:serviceaccount:capstan:capstan\" cannot list resource \"kustomizations\" in API group \"kustomize.toolkit.fluxcd.io\" at the cluster scope"
        },
        {
            401,
            """{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}""",
            503,
            "Cluster 'prod' rejected the stored credentials (401 Unauthorized); update the cluster's credentials"
        },
        {
            410,
            """{"kind":"Status","apiVersion":"v1","metadata":{"continue":"eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTIzNDUsInN0YXJ0IjoiYXBwcy9wb2RpbmZvXHUwMDAwIn0"},"status":"Failure","message":"The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.","reason":"Expired","code":410}""",
            410,
            "The list or watch position expired; start again without a continue token"
        },
        {
            429,
            """{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Too many requests, please try again later.","reason":"TooManyRequests","details":{"causes":[{"message":"client rate limiter Wait returned an error: context deadline exceeded"}],"retryAfterSeconds":2},"code":429}""",
            429,
            "Cluster 'prod' is throttling requests; retry in 2 s"
        },
        {
            500,
            """{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Internal error occurred: failed calling webhook \"validate.kyverno.svc-fail\": failed to call webhook: Post \"https://kyverno-svc.kyverno.svc:443/validate/fail?timeout=10s\": dial tcp 10.96.112.4:443: connect: connection refused","reason":"InternalError","details":{"causes":[{"message":"failed calling webhook \"validate.kyverno.svc-fail\""}]},"code":500}""",
            503,
            "Kubernetes cluster 'prod' is unavailable (500): Internal error occurred: failed calling webhook \"validate.kyverno.svc-fail\": failed to call webhook: Post \"[url]\": dial tcp [address]: connect: connection refused"
        },
        {
            503,
            """{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server is currently unable to handle the request","reason":"ServiceUnavailable","details":{"causes":[{"reason":"UnexpectedServerResponse","message":"service unavailable"}]},"code":503}""",
            503,
            "Kubernetes cluster 'prod' is unavailable (503): the server is currently unable to handle the request"
        },
        {
            504,
            """{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Timeout: request did not complete within requested timeout - context deadline exceeded","reason":"Timeout","details":{},"code":504}""",
            503,
            "Kubernetes cluster 'prod' is unavailable (504): Timeout: request did not complete within requested timeout - context deadline exceeded"
        },
        {
            415,
            """{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml","reason":"UnsupportedMediaType","code":415}""",
            400,
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
        },
        {
            502,
            "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
            503,
            "Kubernetes cluster 'prod' is unavailable (502)"
        },
    };

    [Theory]
    [MemberData(nameof(StatusBodies))]
    public async Task Status_bodies_become_clear_4xx_or_503(int status, string body, int expectedStatus, string expectedMessage)
    {
        using var client = ClientAnswering(status, body, status == 502 ? "text/html" : "application/json");

        var failure = await Should.ThrowAsync<KubernetesApiException>(() => client.GetJsonAsync("apis/kustomize.toolkit.fluxcd.io/v1/kustomizations", CancellationToken.None));

        failure.StatusCode.ShouldBe(expectedStatus);
        failure.Message.ShouldBe(expectedMessage);
        failure.KubernetesStatusCode.ShouldBe(status);
    }

    [Fact]
    public async Task Invalid_objects_are_a_400_with_the_causes_per_field()
    {
        const string Body = """{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Kustomization.kustomize.toolkit.fluxcd.io \"apps\" is invalid: [spec.interval: Invalid value: \"integer\": spec.interval in body must be of type string: \"integer\", spec.sourceRef.kind: Unsupported value: \"Git\": supported values: \"OCIRepository\", \"GitRepository\", \"Bucket\"]","reason":"Invalid","details":{"name":"apps","group":"kustomize.toolkit.fluxcd.io","kind":"Kustomization","causes":[{"reason":"FieldValueTypeInvalid","message":"Invalid value: \"integer\": spec.interval in body must be of type string: \"integer\"","field":"spec.interval"},{"reason":"FieldValueNotSupported","message":"Unsupported value: \"Git\": supported values: \"OCIRepository\", \"GitRepository\", \"Bucket\"","field":"spec.sourceRef.kind"}]},"code":422}""";
        using var client = ClientAnswering(422, Body);

        var failure = await Should.ThrowAsync<KubernetesApiException>(() => client.GetJsonAsync("x", CancellationToken.None));

        failure.StatusCode.ShouldBe(400);
        failure.Reason.ShouldBe("Invalid");
        failure.Details!["spec.interval"].ShouldBe(["Invalid value: \"integer\": spec.interval in body must be of type string: \"integer\""]);
        failure.Details!["spec.sourceRef.kind"].Single().ShouldStartWith("Unsupported value");
    }

    [Fact]
    public async Task Retry_after_travels_to_the_caller()
    {
        using var client = ClientAnswering(429, """{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Too many requests","reason":"TooManyRequests","code":429}""");

        var failure = await Should.ThrowAsync<KubernetesApiException>(() => client.GetJsonAsync("x", CancellationToken.None));

        failure.Headers!["Retry-After"].ShouldBe("7");
    }

    [Theory]
    [InlineData("token eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJl leaked", "token [redacted token] leaked")]
    [InlineData("Authorization: Bearer abc.def-123 was refused", "Authorization: Bearer [redacted] was refused")]
    [InlineData("-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY----- in config", "[redacted key] in config")]
    [InlineData("dial tcp [fd00::1]:6443: i/o timeout", "dial tcp [address]: i/o timeout")]
    public void Messages_are_scrubbed(string message, string expected)
    {
        KubernetesApiException.Sanitize(message).ShouldBe(expected);
    }

    [Fact]
    public async Task Watch_frames_split_across_chunks_and_utf8_boundaries_are_reassembled()
    {
        var wire = Encoding.UTF8.GetBytes(
            """{"type":"ADDED","object":{"kind":"Kustomization","apiVersion":"kustomize.toolkit.fluxcd.io/v1","metadata":{"name":"apps","namespace":"flux-system","resourceVersion":"5001"},"status":{"conditions":[{"type":"Ready","status":"True","message":"Applied revision: main@sha1:4d7e ✓"}]}}}""" + "\n"
            + """{"type":"MODIFIED","object":{"kind":"Kustomization","apiVersion":"kustomize.toolkit.fluxcd.io/v1","metadata":{"name":"apps","namespace":"flux-system","resourceVersion":"5002"}}}""" + "\n"
            + """{"type":"BOOKMARK","object":{"kind":"Kustomization","apiVersion":"kustomize.toolkit.fluxcd.io/v1","metadata":{"resourceVersion":"5010","annotations":{"k8s.io/initial-events-end":"true"}}}}""" + "\n"
            + """{"type":"DELETED","object":{"kind":"Kustomization","apiVersion":"kustomize.toolkit.fluxcd.io/v1","metadata":{"name":"apps","namespace":"flux-system","resourceVersion":"5011"}}}""" + "\n");
        var checkMark = Array.IndexOf(wire, (byte)0xE2);
        var cuts = new[] { 7, 120, checkMark + 1, checkMark + 2, 400, 401, wire.Length - 3 };

        var events = await ReadAllAsync(new ChunkedStream(wire, cuts));

        events.Select(watchEvent => (watchEvent.Type, watchEvent.ResourceVersion)).ShouldBe(
            [("ADDED", "5001"), ("MODIFIED", "5002"), ("BOOKMARK", "5010"), ("DELETED", "5011")]);
        events[0].Object["status"]!["conditions"]![0]!["message"]!.GetValue<string>().ShouldEndWith("✓");
    }

    [Fact]
    public async Task An_expired_watch_error_frame_is_thrown_as_expired()
    {
        var wire = Encoding.UTF8.GetBytes(
            """{"type":"ADDED","object":{"kind":"GitRepository","metadata":{"name":"a","resourceVersion":"7"}}}""" + "\n"
            + """{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 1000 (2345)","reason":"Expired","code":410}}""" + "\n");
        var seen = new List<string>();

        var failure = await Should.ThrowAsync<KubernetesApiException>(async () =>
        {
            await foreach (var watchEvent in KubernetesClient.ReadWatchStreamAsync(new ChunkedStream(wire, [30]), "prod", CancellationToken.None))
            {
                seen.Add(watchEvent.Type);
            }
        });

        seen.ShouldBe(["ADDED"]);
        failure.IsExpired.ShouldBeTrue();
    }

    [Fact]
    public async Task A_garbled_watch_frame_is_a_503_and_a_dropped_stream_just_ends()
    {
        await Should.ThrowAsync<KubernetesApiException>(async () => await ReadAllAsync(new ChunkedStream(Encoding.UTF8.GetBytes("<html>oops</html>\n"), [])));

        var dropped = await ReadAllAsync(new ChunkedStream(Encoding.UTF8.GetBytes("""{"type":"ADDED","object":{"metadata":{"resourceVersion":"1"}}}""" + "\n{\"type\":\"MOD"), [], failAtEnd: true));

        dropped.Single().Type.ShouldBe("ADDED");
    }

    private static async Task<List<WatchEvent>> ReadAllAsync(Stream stream)
    {
        var events = new List<WatchEvent>();
        await foreach (var watchEvent in KubernetesClient.ReadWatchStreamAsync(stream, "prod", CancellationToken.None))
        {
            events.Add(watchEvent);
        }

        return events;
    }

    private static KubernetesClient ClientAnswering(int status, string body, string contentType = "application/json") =>
        new(new ClusterConnection { Server = new Uri("https://prod.example.com:6443") }, "prod", handler: new StubHandler(() =>
        {
            var response = new HttpResponseMessage((HttpStatusCode)status) { Content = new StringContent(body, Encoding.UTF8, contentType) };
            if (status == 429)
            {
                response.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(TimeSpan.FromSeconds(7));
            }

            return response;
        }));

    private sealed class StubHandler(Func<HttpResponseMessage> respond) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) => Task.FromResult(respond());
    }

    /// <summary>Hands out <paramref name="bytes"/> in pieces cut at <paramref name="cuts"/>, one piece per read, like
    /// HTTP chunks arriving over time; optionally fails like a dropped connection at the end.</summary>
    private sealed class ChunkedStream(byte[] bytes, int[] cuts, bool failAtEnd = false) : Stream
    {
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => bytes.Length;

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => ReadCore(buffer.AsSpan(offset, count));

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.FromResult(ReadCore(buffer.Span));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private int ReadCore(Span<byte> buffer)
        {
            if (_position >= bytes.Length)
            {
                return failAtEnd ? throw new IOException("connection reset by peer") : 0;
            }

            var next = cuts.Where(cut => cut > _position).DefaultIfEmpty(bytes.Length).Min();
            var count = Math.Min(buffer.Length, next - _position);
            bytes.AsSpan(_position, count).CopyTo(buffer);
            _position += count;
            return count;
        }
    }
}
