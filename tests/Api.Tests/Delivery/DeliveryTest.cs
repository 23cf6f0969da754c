using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;

namespace Capstan.Api.Tests.Delivery;

/// <summary>The delivery host: heartbeats every second on its streams, builds polled quickly, <c>file://</c>
/// repositories allowed for imports (tests make local Git repositories).</summary>
public sealed class DeliveryFixture : ApiFixture
{
    protected override string Purpose => "delivery";

    protected override ApiFactory CreateFactory(string connectionString) => new(connectionString, new Dictionary<string, string?>
    {
        ["Delivery:Streams:HeartbeatSeconds"] = "1",
        ["Delivery:Builds:PollMilliseconds"] = "100",
        ["Delivery:Builds:BuilderImage"] = "registry.local/kaniko:test",
        ["Delivery:Import:AllowFileUrls"] = "true",
    });
}

[CollectionDefinition(Name)]
public sealed class DeliveryCollection : ICollectionFixture<DeliveryFixture>
{
    public const string Name = "delivery";
}

/// <summary>Base of the delivery area's HTTP tests: its own database, a fake Kubernetes API server per test class reset
/// before every test, and helpers that build workflows through the routes themselves.</summary>
[Collection(DeliveryCollection.Name)]
public abstract class DeliveryTest(DeliveryFixture fixture, FakeKubernetesFixture fake) : ApiTest<DeliveryFixture>(fixture), IClassFixture<FakeKubernetesFixture>
{
    protected static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    protected FakeKubernetesApi Api => fake.Api;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Api.Reset();
    }

    /// <summary>A developer (may edit, deploy and build) and their client.</summary>
    protected Task<(HttpClient Client, TestUser User)> DeveloperAsync() => Fixture.ClientAsAsync(BaseRole.Developer);

    /// <summary>The fake cluster as a platform cluster everyone may deploy to.</summary>
    protected Task<Guid> RegisterClusterAsync(string name = "prod", Guid? owner = null, bool isDefault = false) =>
        Fixture.RegisterClusterAsync(Api, name, owner, owner is null ? "platform" : "user", isDefaultFor: isDefault);

    protected static JsonObject Node(string id, string type, object data, double x = 100, double y = 100) => new()
    {
        ["id"] = id,
        ["type"] = type,
        ["position"] = new JsonObject { ["x"] = x, ["y"] = y },
        ["data"] = JsonSerializer.SerializeToNode(data),
    };

    protected static JsonObject Edge(string id, string source, string target) => new() { ["id"] = id, ["source"] = source, ["target"] = target };

    /// <summary>The web app of reference §18: a Service (n2) in front of a Deployment (n1).</summary>
    protected static (JsonArray Nodes, JsonArray Edges) WebApp(string image = "nginx:1.25") => (
        [
            Node("n1", "deployment", new { name = "web", @namespace = "default", image, replicas = 2, port = 80, templateId = "core/deployment" }, 700),
            Node("n2", "service", new { name = "web-svc", @namespace = "default", serviceType = "ClusterIP", targetApp = "web", port = 80, targetPort = 80 }, 400),
        ],
        [Edge("e1", "n2", "n1")]);

    protected static async Task<Guid> CreateWorkflowAsync(HttpClient client, string name = "shop", string? cluster = "prod", JsonArray? nodes = null, JsonArray? edges = null)
    {
        var body = new JsonObject { ["name"] = name, ["description"] = "the shop" };
        if (cluster is not null)
        {
            body["cluster_id"] = cluster;
        }

        if (nodes is not null)
        {
            body["nodes"] = nodes.DeepClone();
            body["edges"] = (edges ?? []).DeepClone();
        }

        var created = await (await client.PostAsJsonAsync("/v1/api/workflows", body)).ShouldBeJsonAsync(HttpStatusCode.Created);
        return created.GetProperty("id").GetGuid();
    }

    protected static async Task SaveAsync(HttpClient client, Guid id, JsonArray nodes, JsonArray edges) =>
        await (await client.PostAsJsonAsync($"/v1/api/workflows/{id}/save", new JsonObject { ["nodes"] = nodes.DeepClone(), ["edges"] = edges.DeepClone() })).ShouldBeJsonAsync();

    protected static async Task SetStatusAsync(HttpClient client, Guid id, string status) =>
        await (await client.PutAsJsonAsync($"/v1/api/workflows/{id}/status", new { status })).ShouldBeJsonAsync();

    /// <summary>A published workflow holding <see cref="WebApp"/>, ready to run.</summary>
    protected static async Task<Guid> PublishedWebAppAsync(HttpClient client, string name = "shop", string? cluster = "prod")
    {
        var (nodes, edges) = WebApp();
        var id = await CreateWorkflowAsync(client, name, cluster, nodes, edges);
        await SetStatusAsync(client, id, "published");
        return id;
    }

    protected static async Task<JsonElement> RunAsync(HttpClient client, Guid id, object? body = null)
    {
        var response = body is null ? await client.PostAsync($"/v1/api/workflows/{id}/run", null) : await client.PostAsJsonAsync($"/v1/api/workflows/{id}/run", body);
        return await response.ShouldBeJsonAsync();
    }

    protected static async Task<SseStream> OpenSseAsync(HttpClient client, string url)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Accept.ParseAdd("text/event-stream");
        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        response.StatusCode.ShouldBe(HttpStatusCode.OK, response.IsSuccessStatusCode ? null : await response.Content.ReadAsStringAsync());
        response.Content.Headers.ContentType!.MediaType.ShouldBe("text/event-stream");
        return new SseStream(response, new StreamReader(await response.Content.ReadAsStreamAsync()));
    }

    protected static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{what} did not happen in time");
            }

            await Task.Delay(50);
        }
    }
}

/// <summary>One SSE frame: its event name, its data (all data lines joined) and its id.</summary>
public sealed record SseFrame(string Event, string Data, string? Id)
{
    public JsonElement Json => JsonDocument.Parse(Data).RootElement;
}

/// <summary>Reads an SSE response frame by frame; comments (heartbeats) are counted, not returned.</summary>
public sealed class SseStream(HttpResponseMessage response, StreamReader reader) : IDisposable
{
    public HttpResponseMessage Response { get; } = response;

    public List<SseFrame> Seen { get; } = [];

    public int Comments { get; private set; }

    public async Task<SseFrame?> NextAsync(TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(20));
        string? name = null, id = null;
        var data = new List<string>();
        while (true)
        {
            var line = await reader.ReadLineAsync(cancel.Token);
            if (line is null)
            {
                return null;
            }

            if (line.Length == 0)
            {
                if (name is null && data.Count == 0)
                {
                    continue;
                }

                var frame = new SseFrame(name ?? "message", string.Join('\n', data), id);
                Seen.Add(frame);
                return frame;
            }

            if (line.StartsWith(':'))
            {
                Comments++;
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? string.Empty : line[(colon + 1)..].TrimStart(' ');
            switch (field)
            {
                case "event":
                    name = value;
                    break;
                case "data":
                    data.Add(value);
                    break;
                case "id":
                    id = value;
                    break;
            }
        }
    }

    /// <summary>The next frame named <paramref name="name"/>, skipping others.</summary>
    public async Task<SseFrame> NextAsync(string name, TimeSpan? timeout = null)
    {
        while (true)
        {
            var frame = await NextAsync(timeout) ?? throw new InvalidOperationException($"the stream ended before a '{name}' frame; seen: {string.Join(", ", Seen.Select(seen => seen.Event))}");
            if (frame.Event == name)
            {
                return frame;
            }
        }
    }

    public void Dispose()
    {
        reader.Dispose();
        Response.Dispose();
    }
}
