using System.Security.Claims;
using Capstan.Infrastructure.Crypto;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Capstan.Infrastructure.Security;

/// <summary>
/// The HS256 bearer JWT returned by login and refresh. It names the user and, in <c>sid</c>, the server-side session it
/// belongs to, so ending the session (logout, deactivation) ends the token too. The signing key derives from the
/// master key.
/// </summary>
public sealed class SessionTokens(MasterKey masterKey, TimeProvider clock)
{
    public const string Issuer = "capstan";
    public const string Audience = "capstan-api";
    public const string SessionClaim = "sid";

    private readonly SymmetricSecurityKey _key = new(masterKey.Derive("jwt-hs256")) { KeyId = "capstan-session" };
    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false };

    public string Issue(Guid userId, string username, string role, Guid sessionId, DateTimeOffset expiresAt)
    {
        var now = clock.GetUtcNow();
        return _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = Audience,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = expiresAt.UtcDateTime,
            SigningCredentials = new SigningCredentials(_key, SecurityAlgorithms.HmacSha256),
            Claims = new Dictionary<string, object>
            {
                [JwtRegisteredClaimNames.Sub] = userId.ToString(),
                [SessionClaim] = sessionId.ToString(),
                // Unique per token, so a refresh within the same second still yields a new token.
                [JwtRegisteredClaimNames.Jti] = Guid.CreateVersion7().ToString(),
                ["name"] = username,
                ["role"] = role,
            },
        });
    }

    /// <summary>The token's user and session when its signature, issuer and audience hold and it has not expired more
    /// than <paramref name="expiredGrace"/> ago (zero for requests; refresh allows a window).</summary>
    public async Task<SessionTokenClaims?> ReadAsync(string token, TimeSpan expiredGrace)
    {
        var result = await _handler.ValidateTokenAsync(token, new TokenValidationParameters
        {
            ValidIssuer = Issuer,
            ValidAudience = Audience,
            IssuerSigningKey = _key,
            ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
            ClockSkew = TimeSpan.FromSeconds(30),
            ValidateLifetime = true,
            LifetimeValidator = (_, expires, _, _) => expires is { } at && at.Add(expiredGrace) > clock.GetUtcNow().UtcDateTime,
            RequireExpirationTime = true,
        });
        if (!result.IsValid
            || !Guid.TryParse(result.ClaimsIdentity.FindFirst(JwtRegisteredClaimNames.Sub)?.Value ?? result.ClaimsIdentity.FindFirst(ClaimTypes.NameIdentifier)?.Value, out var userId)
            || !Guid.TryParse(result.ClaimsIdentity.FindFirst(SessionClaim)?.Value, out var sessionId))
        {
            return null;
        }

        return new SessionTokenClaims(userId, sessionId, new DateTimeOffset(((JsonWebToken)result.SecurityToken).ValidTo, TimeSpan.Zero));
    }

    /// <summary>Cheap shape check: three base64url segments (so other bearer values are treated as API keys).</summary>
    public static bool LooksLikeJwt(string value) => value.Count(character => character == '.') == 2 && value.StartsWith("eyJ", StringComparison.Ordinal);
}

public sealed record SessionTokenClaims(Guid UserId, Guid SessionId, DateTimeOffset ExpiresAt);
