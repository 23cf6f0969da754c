using System.Security.Cryptography;
using System.Text;
using Capstan.Infrastructure.Crypto;

namespace Capstan.Infrastructure.Security;

/// <summary>Double-submit CSRF tokens for cookie sessions: the token is the hex HMAC-SHA256 of the session id, set as
/// the readable <c>gyre_csrf</c> cookie and echoed by the client in <c>X-CSRF-Token</c> on mutating requests.</summary>
public sealed class CsrfTokens(MasterKey masterKey)
{
    public const string CookieName = "gyre_csrf";
    public const string HeaderName = "X-CSRF-Token";

    private readonly byte[] _key = masterKey.Derive("csrf");

    public string For(Guid sessionId) =>
        Convert.ToHexString(HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(sessionId.ToString()))).ToLowerInvariant();

    public bool IsValid(Guid sessionId, string? header, string? cookie) =>
        !string.IsNullOrEmpty(header)
        && !string.IsNullOrEmpty(cookie)
        && SecretTokens.FixedTimeEquals(header, cookie)
        && SecretTokens.FixedTimeEquals(header, For(sessionId));
}
