using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Access;

/// <summary>An access agent as the real one behaves: it authenticates with <c>X-Agent-Secret</c> on its own path,
/// registers its X25519 key, polls for jobs, opens sealed values with its private key (computed independently of the
/// service's code), encrypts uploads under a data key from <c>/dek</c>.</summary>
public sealed class TestAgent : IDisposable
{
    public TestAgent(HttpClient client, Guid id, string secret, byte[]? privateKey)
    {
        Client = client;
        Id = id;
        Secret = secret;
        PrivateKey = privateKey;
        Client.DefaultRequestHeaders.Add("X-Agent-Secret", secret);
    }

    public HttpClient Client { get; }

    public Guid Id { get; }

    public string Secret { get; }

    public byte[]? PrivateKey { get; private set; }

    public string Path(string rest) => $"/api/v1/agents/{Id}/{rest}";

    public async Task RegisterKeyAsync()
    {
        PrivateKey = RandomNumberGenerator.GetBytes(32);
        var response = await Client.PutAsJsonAsync(Path("public-key"), new { public_key = Convert.ToBase64String(IndependentSealing.PublicKey(PrivateKey)), public_key_algorithm = "x25519" });
        response.StatusCode.ShouldBe(HttpStatusCode.NoContent, await response.Content.ReadAsStringAsync());
    }

    public async Task HeartbeatAsync() =>
        (await Client.PostAsync(Path("heartbeat"), null)).StatusCode.ShouldBe(HttpStatusCode.NoContent);

    /// <summary>The claimed job, or null on 204.</summary>
    public async Task<JsonElement?> ClaimAsync()
    {
        var response = await Client.PostAsync(Path("jobs/claim"), null);
        if (response.StatusCode == HttpStatusCode.NoContent)
        {
            return null;
        }

        return await response.ShouldBeJsonAsync();
    }

    public Task<HttpResponseMessage> CompleteAsync(Guid jobId, string status = "succeeded", string? error = null) =>
        Client.PostAsJsonAsync(Path($"jobs/{jobId}/complete"), new { status, error });

    /// <summary>Fetches a patch value once and opens it (sealed when a key is registered). Checks the content hash.</summary>
    public async Task<byte[]> FetchValueAsync(Guid wrapId)
    {
        var body = await (await Client.GetAsync(Path($"wraps/{wrapId}"))).ShouldBeJsonAsync();
        byte[] value;
        if (PrivateKey is not null)
        {
            body.TryGetProperty("value", out _).ShouldBeFalse("an agent with a key must get the value sealed");
            var sealedValue = body.GetProperty("sealed");
            sealedValue.GetProperty("algorithm").GetString().ShouldBe("x25519-hkdf-aes-gcm");
            value = IndependentSealing.Open(
                sealedValue.GetProperty("ciphertext").GetString()!,
                sealedValue.GetProperty("nonce").GetString()!,
                sealedValue.GetProperty("ephemeral_public_key").GetString()!,
                PrivateKey);
        }
        else
        {
            value = Convert.FromBase64String(body.GetProperty("value").GetString()!);
        }

        Convert.ToHexString(SHA256.HashData(value)).ToLowerInvariant().ShouldBe(body.GetProperty("content_hash").GetString());
        body.GetProperty("byte_length").GetInt64().ShouldBe(value.Length);
        return value;
    }

    /// <summary>Uploads a read-flow value encrypted under a fresh data key, as the real agent does.</summary>
    public async Task<HttpResponseMessage> PostValueAsync(Guid requestId, string keyName, byte[] value)
    {
        var dek = await (await Client.PostAsync(Path("dek"), null)).ShouldBeJsonAsync(HttpStatusCode.Created);
        var key = Convert.FromBase64String(dek.GetProperty("plaintext").GetString()!);
        var nonce = RandomNumberGenerator.GetBytes(12);
        var sealedBytes = IndependentSealing.AesGcmSeal(key, nonce, value);
        CryptographicOperations.ZeroMemory(key);
        return await Client.PostAsJsonAsync(Path("wraps"), new
        {
            request_id = requestId,
            key_name = keyName,
            envelope = new
            {
                algorithm = "aes-256-gcm",
                ciphertext = Convert.ToBase64String(sealedBytes),
                nonce = Convert.ToBase64String(nonce),
                dek_ciphertext = dek.GetProperty("ciphertext").GetString(),
                dek_kms_key_id = dek.GetProperty("kms_key_id").GetString(),
            },
        });
    }

    public void Dispose() => Client.Dispose();
}
