using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Retro.Api.Options;

namespace Retro.Api.Infrastructure;

/// <summary>
/// Caps request bodies at <see cref="ServiceOptions.MaxRequestBodyBytes"/>: a declared larger Content-Length is refused
/// with 413 problem details before reading, and the server's own limit catches chunked bodies while they are read.
/// </summary>
internal sealed class RequestBodyLimitMiddleware(RequestDelegate next, IOptions<ServiceOptions> options, IProblemDetailsService problems)
{
    private readonly long _limit = options.Value.MaxRequestBodyBytes;

    public async Task InvokeAsync(HttpContext context)
    {
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature) feature.MaxRequestBodySize = _limit;
        if (context.Request.ContentLength is long length && length > _limit)
        {
            context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
            await problems.WriteAsync(new ProblemDetailsContext
            {
                HttpContext = context,
                ProblemDetails =
                {
                    Status = StatusCodes.Status413PayloadTooLarge,
                    Title = "Request body too large",
                    Detail = $"The body has {length} bytes; the limit is {_limit}.",
                },
            });
            return;
        }
        await next(context);
    }
}
