using System.Collections.Concurrent;

namespace Capstan.Tests.Support;

/// <summary>Keeps every answer the service gives (status, headers and body as text), for canary tests that prove a
/// secret appears in no answer but the one made to show it. Use with <c>Factory.CreateDefaultClient(recorder)</c>.</summary>
public sealed class ResponseRecorder : DelegatingHandler
{
    private readonly ConcurrentQueue<(HttpResponseMessage Response, string Text)> _responses = new();

    public IReadOnlyCollection<(HttpResponseMessage Response, string Text)> Responses => _responses;

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        await response.Content.LoadIntoBufferAsync(cancellationToken);
        var text = $"{(int)response.StatusCode}\n{response.Headers}\n{response.Content.Headers}\n{await response.Content.ReadAsStringAsync(cancellationToken)}";
        _responses.Enqueue((response, text));
        return response;
    }
}
