using System.Globalization;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;

namespace Capstan.Infrastructure.Http;

/// <summary>
/// Global abuse limits on every request, shared by all replicas (counted in PostgreSQL in leases by
/// <see cref="LeasedRateLimiter"/>, so a busy client costs a few round trips a second, not one per request): per
/// client address (<c>RateLimits:PerIp</c>) and, once signed in, per user (<c>RateLimits:PerUser</c>), each a
/// <c>Limit</c> of requests per <c>WindowSeconds</c> judged as a sliding window.
/// Over a limit the answer is 429 with <c>Retry-After</c>. The defaults are generous (3000 per minute per address,
/// 6000 per user, room for a dashboard and a fleet of agents behind one key); a limit of 0 switches that one off,
/// <c>RateLimits:Enabled=false</c> both. Probes and <c>/metrics</c> are never limited: an orchestrator must always
/// be able to ask. Behind a proxy set <c>Api:TrustForwardedHeaders</c> so the address is the client's.
/// </summary>
public sealed class RequestRateLimitMiddleware(RequestDelegate next, LeasedRateLimiter limiter, IConfiguration configuration)
{
    private static readonly HashSet<string> Exempt = new(StringComparer.OrdinalIgnoreCase)
    {
        "/health", "/healthz", "/readyz", "/metrics", "/api/v1/health", "/api/v1/ready",
    };

    private readonly bool _enabled = configuration.GetValue("RateLimits:Enabled", true);
    private readonly RateLimitRule? _perIp = Rule(configuration, "RateLimits:PerIp", 3000);
    private readonly RateLimitRule? _perUser = Rule(configuration, "RateLimits:PerUser", 6000);

    public async Task InvokeAsync(HttpContext context, RequestContext request)
    {
        if (!_enabled || Exempt.Contains(context.Request.Path.Value?.TrimEnd('/') ?? string.Empty))
        {
            await next(context);
            return;
        }

        var hits = new List<(string Key, RateLimitRule Rule)>(2);
        if (_perIp is { } perIp)
        {
            hits.Add(($"global:ip:{context.Connection.RemoteIpAddress?.ToString() ?? "unknown"}", perIp));
        }

        if (_perUser is { } perUser && request.Caller is { } caller)
        {
            hits.Add(($"global:user:{caller.UserId}", perUser));
        }

        if (hits.Count > 0)
        {
            var decisions = await limiter.HitAsync(hits, context.RequestAborted);
            var tightest = decisions.MinBy(decision => decision.Remaining);
            context.Response.Headers["X-RateLimit-Limit"] = tightest.Limit.ToString(CultureInfo.InvariantCulture);
            context.Response.Headers["X-RateLimit-Remaining"] = tightest.Remaining.ToString(CultureInfo.InvariantCulture);
            var refusals = decisions.Where(decision => !decision.Allowed).ToList();
            if (refusals.Count > 0)
            {
                var refused = refusals.MaxBy(decision => decision.RetryAfter);
                var seconds = Math.Max(1, (int)Math.Ceiling(refused.RetryAfter.TotalSeconds));
                throw new TooManyRequestsException(refused.RetryAfter, $"Too many requests. Please try again in {seconds} seconds.");
            }
        }

        await next(context);
    }

    private static RateLimitRule? Rule(IConfiguration configuration, string section, int defaultLimit)
    {
        var limit = configuration.GetValue($"{section}:Limit", defaultLimit);
        var window = configuration.GetValue($"{section}:WindowSeconds", 60);
        return limit > 0 && window > 0 ? new RateLimitRule(limit, TimeSpan.FromSeconds(window)) : null;
    }
}
