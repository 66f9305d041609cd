using System.Diagnostics;
using Retro.Api.Telemetry;

namespace Retro.Api.Infrastructure;

/// <summary>A server span and the request-duration histogram for every /v1 request (no ASP.NET instrumentation package here).</summary>
internal sealed class RequestTelemetryMiddleware(RequestDelegate next)
{
    public async Task InvokeAsync(HttpContext context)
    {
        if (!context.Request.Path.StartsWithSegments("/v1"))
        {
            await next(context);
            return;
        }
        string route = context.Request.Path.Value ?? "";
        using var activity = RetroTelemetry.ActivitySource.StartActivity($"{context.Request.Method} {route}", ActivityKind.Server);
        long start = Stopwatch.GetTimestamp();
        try
        {
            await next(context);
        }
        finally
        {
            int status = context.RequestAborted.IsCancellationRequested && !context.Response.HasStarted ? 499 : context.Response.StatusCode;
            activity?.SetTag("http.request.method", context.Request.Method);
            activity?.SetTag("http.route", route);
            activity?.SetTag("http.response.status_code", status);
            RetroTelemetry.RequestDuration.Record(Stopwatch.GetElapsedTime(start).TotalMilliseconds,
                new KeyValuePair<string, object?>("http.route", route),
                new KeyValuePair<string, object?>("http.response.status_code", status));
        }
    }
}
