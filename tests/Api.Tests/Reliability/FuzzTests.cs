using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Xunit.Abstractions;

namespace Capstan.Api.Tests.Reliability;

/// <summary>
/// Bad input over every operation of the OpenAPI document, as an administrator (so requests get past authorization
/// to binding, validation and the handlers): malformed JSON, wrong root and property types, deep nesting, a body over
/// the size limit, overlong strings, invalid UUIDs and enum values, nulls, unknown properties and query parameters,
/// path traversal in path parameters, query file names and multipart file names, hostile headers (CR/LF, overlong
/// request ids, bogus content types, cookies and forwarded addresses). Every answer must come within its timeout,
/// never be a 5xx (a 503 only where the route's plain request already answers 503: a dependency that is not
/// configured), carry the one error shape when it is an error, and a traversal file name must never be served.
/// </summary>
public sealed class FuzzTests(ReliabilityFixture fixture, ITestOutputHelper output) : ReliabilityTest(fixture)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>Operations that do heavy real work on every accepted call (a database dump): one request each.</summary>
    private static readonly HashSet<string> Costly = ["POST /api/v1/admin/backups"];

    private static readonly string[] HostilePathValues =
    [
        "not-a-uuid", "../../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", new('a', 4000), "' OR 1=1 --", "-1", "99999999999999999999999",
    ];

    private JsonElement _components;

    private sealed record Probe(string Name, Func<HttpRequestMessage> Build, bool TraversalFileName = false);

    [Fact]
    public async Task Bad_input_never_yields_a_5xx_a_hang_or_another_error_shape()
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);
        var document = JsonDocument.Parse(await admin.GetStringAsync("/api/docs/openapi.json")).RootElement;
        _components = document.TryGetProperty("components", out var components) && components.TryGetProperty("schemas", out var schemas) ? schemas : default;

        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        var statuses = new SortedDictionary<int, int>();
        int operations = 0, requests = 0, dependencyDown = 0;
        var clock = Stopwatch.StartNew();
        var work = document.GetProperty("paths").EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject()
                .Where(operation => operation.Name is "get" or "post" or "put" or "patch" or "delete")
                .Select(operation => (Path: path, Operation: operation)))
            .ToList();

        // Four operations at a time; the requests of one operation run in order (the first is the plain one).
        await Parallel.ForEachAsync(work, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (item, _) =>
        {
            Interlocked.Increment(ref operations);
            var method = item.Operation.Name.ToUpperInvariant();
            var parameters = Parameters(item.Path.Value, item.Operation.Value);
            var probes = Probes(method, item.Path.Name, parameters, item.Operation.Value).ToList();
            if (Costly.Contains($"{method} {item.Path.Name}"))
            {
                probes = probes.Take(1).ToList();
            }

            int? baseline = null;
            foreach (var probe in probes)
            {
                Interlocked.Increment(ref requests);
                var (status, problem) = await SendAsync(admin, probe);
                baseline ??= status;
                lock (statuses)
                {
                    statuses[status] = statuses.GetValueOrDefault(status) + 1;
                }

                if (status == 503 && baseline == 503)
                {
                    Interlocked.Increment(ref dependencyDown);
                }
                else if (status >= 500)
                {
                    problem ??= $"answered {status}";
                }

                if (probe.TraversalFileName && status is >= 200 and < 300)
                {
                    problem ??= $"served a traversal file name with {status}";
                }

                if (problem is not null)
                {
                    failures.Add($"{method} {item.Path.Name} [{probe.Name}]: {problem}");
                }
            }
        });

        output.WriteLine($"fuzzed {operations} operations with {requests} requests in {clock.Elapsed.TotalSeconds:F0} s; answers: {string.Join(", ", statuses.Select(pair => $"{pair.Key}×{pair.Value}"))}; " +
            $"{dependencyDown} were 503 from routes whose dependency is not configured; failures: {failures.Count}");
        foreach (var failure in failures.Order().Take(300))
        {
            output.WriteLine(failure);
        }

        // A 500 names its cause: the error middleware logged the exception behind it.
        foreach (var line in Fixture.Logs.Lines.Where(line => line.StartsWith("Error Capstan.Api.Errors.", StringComparison.Ordinal)).Take(5))
        {
            output.WriteLine(line);
        }

        operations.ShouldBeGreaterThan(200);
        failures.ShouldBeEmpty();
        Fixture.Logs.All.ShouldNotContain("Unhandled exception");
    }

    private async Task<(int Status, string? Problem)> SendAsync(HttpClient client, Probe probe)
    {
        using var request = probe.Build();
        using var cancel = new CancellationTokenSource(Timeout);
        HttpResponseMessage response;
        try
        {
            response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel.Token);
        }
        catch (OperationCanceledException)
        {
            return (0, $"no answer within {Timeout.TotalSeconds} s");
        }

        using (response)
        {
            var status = (int)response.StatusCode;
            if (status < 400)
            {
                return (status, null);
            }

            string text;
            try
            {
                text = await response.Content.ReadAsStringAsync(cancel.Token);
            }
            catch (OperationCanceledException)
            {
                return (status, "the error body did not end");
            }

            return (status, ErrorShapeProblem(status, response.Content.Headers.ContentType?.MediaType, text));
        }
    }

    private static string? ErrorShapeProblem(int status, string? mediaType, string text)
    {
        if (mediaType != "application/json")
        {
            return $"{status} with Content-Type {mediaType}: {Truncate(text)}";
        }

        try
        {
            var body = JsonDocument.Parse(text).RootElement;
            return body.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.String
                && body.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.String
                && body.TryGetProperty("statusCode", out var code) && code.TryGetInt32(out var number) && number == status
                ? null
                : $"{status} not in the error shape: {Truncate(text)}";
        }
        catch (JsonException)
        {
            return $"{status} with a body that is not JSON: {Truncate(text)}";
        }
    }

    private static string Truncate(string text) => text.Length > 200 ? text[..200] + "…" : text;

    private IEnumerable<Probe> Probes(string method, string template, List<JsonElement> parameters, JsonElement operation)
    {
        var pathParameters = parameters.Where(parameter => In(parameter) == "path").ToList();
        var queryParameters = parameters.Where(parameter => In(parameter) == "query").ToList();
        var body = RequestBody(operation);

        string Url(Func<JsonElement, string>? pathValue = null, string? query = null)
        {
            var url = template;
            foreach (var parameter in pathParameters)
            {
                var value = pathValue?.Invoke(parameter) ?? SampleText(Schema(parameter));
                url = url.Replace("{" + Name(parameter) + "}", value.Contains('%', StringComparison.Ordinal) ? value : Uri.EscapeDataString(value), StringComparison.Ordinal);
            }

            var required = string.Join('&', queryParameters.Where(parameter => parameter.TryGetProperty("required", out var r) && r.GetBoolean())
                .Select(parameter => $"{Name(parameter)}={Uri.EscapeDataString(SampleText(Schema(parameter)))}"));
            var all = string.Join('&', new[] { required, query }.Where(part => !string.IsNullOrEmpty(part)));
            return all.Length == 0 ? url : $"{url}?{all}";
        }

        HttpRequestMessage Request(string url, HttpContent? content = null)
        {
            var request = new HttpRequestMessage(new HttpMethod(method), url);
            if (content is not null)
            {
                request.Content = content;
            }
            else if (body is { } sample && method is "POST" or "PUT" or "PATCH")
            {
                request.Content = Json(sample.Sample.ToJsonString());
            }

            return request;
        }

        // First the plain request: a 503 here means the route's dependency is not configured.
        yield return new Probe("plain", () => Request(Url()));

        foreach (var hostile in HostilePathValues.Where(_ => pathParameters.Count > 0))
        {
            yield return new Probe($"path {Truncate(hostile)}", () => Request(Url(_ => hostile)));
        }

        yield return new Probe("unknown query parameters", () => Request(Url(query: "unknown_fuzz=1&__proto__[x]=1&constructor=%00")));
        if (queryParameters.Count > 0)
        {
            foreach (var (name, value) in new (string, Func<JsonElement, string>)[]
                     {
                         ("wrong query types", parameter => WrongText(Schema(parameter))),
                         ("overlong query values", _ => new string('q', 8000)),
                         ("extreme query numbers", _ => "-99999999999999999999"),
                         ("query traversal", _ => "../../../../etc/passwd"),
                     })
            {
                var isTraversal = name == "query traversal";
                yield return new Probe(
                    name,
                    () => Request(Url(query: string.Join('&', queryParameters.Select(parameter => $"{Name(parameter)}={Uri.EscapeDataString(value(parameter))}")))),
                    isTraversal && queryParameters.Any(parameter => Name(parameter).Contains("file", StringComparison.OrdinalIgnoreCase)));
            }
        }

        yield return new Probe("header injection", () =>
        {
            var request = Request(Url());
            request.Headers.TryAddWithoutValidation("X-Request-Id", "abc\r\nSet-Cookie: injected=1");
            request.Headers.TryAddWithoutValidation("X-Forwarded-For", "not-an-address, \r\n 999.1.1.1");
            request.Headers.TryAddWithoutValidation("Cookie", "gyre_session=../../x; gyre_cluster=%00%0d%0a; gyre_csrf=" + new string('c', 5000));
            return request;
        });
        yield return new Probe("hostile headers", () =>
        {
            var request = Request(Url());
            request.Headers.TryAddWithoutValidation("X-Request-Id", new string('r', 10000) + "ü\u0000");
            request.Headers.TryAddWithoutValidation("Accept", "text/event-stream;q=abc, */*;;;");
            request.Headers.TryAddWithoutValidation("X-Instance-ID", "../../etc/passwd");
            request.Headers.TryAddWithoutValidation("If-None-Match", new string('"', 3000));
            return request;
        });

        if (method is not ("POST" or "PUT" or "PATCH"))
        {
            yield break;
        }

        foreach (var (name, text) in new[]
                 {
                     ("malformed JSON", "{\"a\":"), ("truncated JSON", "{"), ("not JSON", "nul"), ("trailing garbage", "{}}}}"),
                     ("array root", "[]"), ("string root", "\"text\""), ("number root", "42"), ("null root", "null"), ("empty body", string.Empty),
                     ("deep arrays", new string('[', 5000) + new string(']', 5000)),
                     ("deep objects", string.Concat(Enumerable.Repeat("{\"a\":", 300)) + "1" + new string('}', 300)),
                     ("lone surrogate", "{\"name\":\"\\ud800\"}"),
                 })
        {
            yield return new Probe(name, () => Request(Url(), Json(text)));
        }

        yield return new Probe("invalid UTF-8", () => Request(Url(), new ByteArrayContent([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } }));
        yield return new Probe("body over the limit", () => Request(Url(), Json("{\"a\":\"" + new string('x', 3 << 20) + "\"}")));
        yield return new Probe("wrong content type", () => Request(Url(), new StringContent("name=x", Encoding.UTF8, "text/plain")));
        yield return new Probe("bogus charset", () =>
        {
            var content = new ByteArrayContent("{}"u8.ToArray());
            content.Headers.TryAddWithoutValidation("Content-Type", "application/json; charset=klingon");
            return Request(Url(), content);
        });
        yield return new Probe("multipart traversal file name", () =>
        {
            var form = new MultipartFormDataContent("fuzz-boundary");
            var file = new ByteArrayContent("PGDMP not really"u8.ToArray());
            file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            form.Add(file, "file", "../../../../etc/passwd");
            form.Add(new StringContent("../../x"), "name");
            return Request(Url(), form);
        });
        yield return new Probe("broken multipart", () =>
        {
            var content = new ByteArrayContent("--nope\r\nContent-Disposition: form-data; name=\"file\"; filename=\"..\\\\..\\\\boot.ini\"\r\n\r\nxx"u8.ToArray());
            content.Headers.TryAddWithoutValidation("Content-Type", "multipart/form-data; boundary=other");
            return Request(Url(), content);
        });

        if (body is not { } schema)
        {
            yield break;
        }

        foreach (var (name, mutate) in new (string, Func<JsonElement, JsonNode?>)[]
                 {
                     ("wrong property types", Wrong),
                     ("overlong strings", property => Kind(property) == "string" ? JsonValue.Create(new string('s', 200_000)) : Sample(property, 0)),
                     ("invalid enums and UUIDs", property => Enum(property) is not null || Format(property) is "uuid" or "date-time" ? JsonValue.Create("NOT_A_VALID_VALUE") : Sample(property, 0)),
                     ("nulls", _ => null),
                     ("extreme numbers", property => Kind(property) is "integer" or "number" ? JsonValue.Create(1e300) : Sample(property, 0)),
                     ("traversal strings", property => Kind(property) == "string" && Format(property) is null && Enum(property) is null ? JsonValue.Create("../../../../etc/passwd\u0000") : Sample(property, 0)),
                 })
        {
            yield return new Probe(name, () => Request(Url(), Json(Mutated(schema.Schema, mutate).ToJsonString())));
        }

        yield return new Probe("unknown properties", () =>
        {
            var sample = schema.Sample.DeepClone();
            if (sample is JsonObject node)
            {
                node["unknown_fuzz"] = new JsonArray(1, "x", null);
                node["__proto__"] = new JsonObject { ["admin"] = true };
            }

            return Request(Url(), Json(sample.ToJsonString()));
        });
    }

    private static StringContent Json(string text) => new(text, Encoding.UTF8, "application/json");

    private static List<JsonElement> Parameters(JsonElement pathItem, JsonElement operation)
    {
        var list = new List<JsonElement>();
        foreach (var owner in new[] { pathItem, operation })
        {
            if (owner.TryGetProperty("parameters", out var parameters))
            {
                list.AddRange(parameters.EnumerateArray());
            }
        }

        return list;
    }

    private static string In(JsonElement parameter) => parameter.GetProperty("in").GetString() ?? string.Empty;

    private static string Name(JsonElement parameter) => parameter.GetProperty("name").GetString() ?? string.Empty;

    private JsonElement Schema(JsonElement parameter) => parameter.TryGetProperty("schema", out var schema) ? Resolve(schema) : default;

    private (JsonElement Schema, JsonNode Sample)? RequestBody(JsonElement operation)
    {
        if (!operation.TryGetProperty("requestBody", out var body) || !body.TryGetProperty("content", out var content)
            || !content.TryGetProperty("application/json", out var json) || !json.TryGetProperty("schema", out var schema))
        {
            return null;
        }

        var resolved = Resolve(schema);
        return (resolved, Sample(resolved, 0) ?? new JsonObject());
    }

    private JsonElement Resolve(JsonElement schema)
    {
        for (var i = 0; i < 10 && schema.ValueKind == JsonValueKind.Object; i++)
        {
            if (schema.TryGetProperty("$ref", out var reference) && _components.ValueKind == JsonValueKind.Object
                && _components.TryGetProperty(reference.GetString()!.Split('/')[^1], out var target))
            {
                schema = target;
            }
            else if ((schema.TryGetProperty("allOf", out var many) || schema.TryGetProperty("oneOf", out many) || schema.TryGetProperty("anyOf", out many))
                     && many.EnumerateArray().FirstOrDefault(candidate => !(candidate.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String && t.GetString() == "null")) is { ValueKind: JsonValueKind.Object } first)
            {
                schema = first;
            }
            else
            {
                break;
            }
        }

        return schema;
    }

    private static string? Kind(JsonElement schema)
    {
        if (schema.ValueKind != JsonValueKind.Object || !schema.TryGetProperty("type", out var type))
        {
            return schema.ValueKind == JsonValueKind.Object && schema.TryGetProperty("properties", out _) ? "object" : null;
        }

        return type.ValueKind == JsonValueKind.Array
            ? type.EnumerateArray().Select(item => item.GetString()).FirstOrDefault(item => item != "null")
            : type.GetString();
    }

    private static string? Format(JsonElement schema) =>
        schema.ValueKind == JsonValueKind.Object && schema.TryGetProperty("format", out var format) ? format.GetString() : null;

    private static JsonElement? Enum(JsonElement schema) =>
        schema.ValueKind == JsonValueKind.Object && schema.TryGetProperty("enum", out var values) && values.GetArrayLength() > 0 ? values : null;

    private JsonNode? Sample(JsonElement schema, int depth)
    {
        schema = Resolve(schema);
        if (Enum(schema) is { } values)
        {
            return JsonNode.Parse(values[0].GetRawText());
        }

        switch (Kind(schema))
        {
            case "string":
                return JsonValue.Create(Format(schema) switch
                {
                    "uuid" => Guid.CreateVersion7().ToString(),
                    "date-time" => DateTime.UtcNow.ToString("O"),
                    "date" => DateTime.UtcNow.ToString("yyyy-MM-dd"),
                    "uri" => "http://127.0.0.1:9/fuzz",
                    "email" => "fuzz@example.test",
                    _ => "fuzz",
                });
            case "integer":
                return JsonValue.Create(1);
            case "number":
                return JsonValue.Create(1.5);
            case "boolean":
                return JsonValue.Create(true);
            case "array":
                return depth > 3 || !schema.TryGetProperty("items", out var items) ? new JsonArray() : new JsonArray(Sample(items, depth + 1));
            case "object":
                var node = new JsonObject();
                if (depth <= 3 && schema.TryGetProperty("properties", out var properties))
                {
                    foreach (var property in properties.EnumerateObject())
                    {
                        node[property.Name] = Sample(property.Value, depth + 1);
                    }
                }

                return node;
            default:
                return JsonValue.Create("fuzz");
        }
    }

    private JsonNode? Wrong(JsonElement schema) => Kind(Resolve(schema)) switch
    {
        "string" => JsonValue.Create(12345),
        "integer" or "number" => JsonValue.Create("not-a-number"),
        "boolean" => JsonValue.Create("maybe"),
        "array" => new JsonObject { ["not"] = "an array" },
        "object" => JsonValue.Create("not an object"),
        _ => new JsonArray(new JsonArray()),
    };

    private string WrongText(JsonElement schema) => Kind(schema) switch
    {
        "integer" or "number" => "abc",
        "boolean" => "maybe",
        "string" when Format(schema) is "uuid" => "not-a-uuid",
        "string" when Format(schema) is "date-time" or "date" => "yesterday-ish",
        "string" when Enum(schema) is not null => "NOT_AN_ENUM",
        _ => "%ff%fe\u0000",
    };

    private string SampleText(JsonElement schema) => Sample(schema, 0) is JsonValue value ? value.ToString() : "fuzz";

    private JsonNode Mutated(JsonElement schema, Func<JsonElement, JsonNode?> mutate)
    {
        var node = new JsonObject();
        if (schema.ValueKind == JsonValueKind.Object && schema.TryGetProperty("properties", out var properties))
        {
            foreach (var property in properties.EnumerateObject())
            {
                node[property.Name] = mutate(Resolve(property.Value));
            }
        }

        return node;
    }
}
