using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Retro.Api.Options;

namespace Retro.Api.Infrastructure;

/// <summary>
/// When <see cref="ServiceOptions.ApiKey"/> is set, /v1 requests must carry it as <c>X-Api-Key</c> or
/// <c>Authorization: Bearer</c>; otherwise 401 problem details. Compared in constant time over SHA-256 digests (so
/// neither content nor length leaks); the key is never logged.
/// </summary>
internal sealed class ApiKeyMiddleware(RequestDelegate next, IOptions<ServiceOptions> options, IProblemDetailsService problems)
{
    public const string HeaderName = "X-Api-Key";
    private readonly byte[]? _expected = string.IsNullOrEmpty(options.Value.ApiKey) ? null : Digest(options.Value.ApiKey);

    public async Task InvokeAsync(HttpContext context)
    {
        if (_expected is null || !context.Request.Path.StartsWithSegments("/v1") || HasValidKey(context.Request))
        {
            await next(context);
            return;
        }
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.Headers.WWWAuthenticate = "Bearer";
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails =
            {
                Status = StatusCodes.Status401Unauthorized,
                Title = "API key required",
                Detail = $"Send the service's API key as the {HeaderName} header or as Authorization: Bearer <key>.",
            },
        });
    }

    private bool HasValidKey(HttpRequest request)
    {
        string? presented = request.Headers[HeaderName].FirstOrDefault();
        if (string.IsNullOrEmpty(presented))
        {
            string? authorization = request.Headers.Authorization.FirstOrDefault();
            if (authorization is not null && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
                presented = authorization["Bearer ".Length..].Trim();
        }
        return !string.IsNullOrEmpty(presented) && CryptographicOperations.FixedTimeEquals(Digest(presented), _expected);
    }

    private static byte[] Digest(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));
}
