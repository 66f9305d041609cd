using Microsoft.AspNetCore.Diagnostics;
using Microsoft.Extensions.Options;
using Retro.Api.Options;
using Retro.Core;

namespace Retro.Api.Infrastructure;

/// <summary>Maps <see cref="VectorStoreUnavailableException"/> to 503 problem details with Retry-After.</summary>
internal sealed partial class StoreUnavailableExceptionHandler(
    IProblemDetailsService problems, IOptions<ServiceOptions> options, ILogger<StoreUnavailableExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not VectorStoreUnavailableException unavailable) return false;
        LogUnavailable(logger, context.Request.Path, unavailable.Message);
        context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        context.Response.Headers.RetryAfter = options.Value.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            Exception = exception,
            ProblemDetails =
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "Vector store unavailable",
                Detail = "Retrieval could not reach the vector store; retry later, or ask with mode \"closed-book\".",
            },
        });
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Vector store unavailable while serving {Path}: {Reason}")]
    private static partial void LogUnavailable(ILogger logger, PathString path, string reason);
}
