using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Retro.Api.Apis.Contracts;

namespace Retro.Api.Apis;

/// <summary><c>/alive</c> (the process answers) and <c>/health</c> (models loaded, store reachable).</summary>
internal static class HealthApi
{
    public static IEndpointRouteBuilder MapHealthApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/alive", Alive).WithName("Alive").WithSummary("The process is up").WithTags("Health").DisableRateLimiting();
        app.MapGet("/health", HealthAsync).WithName("Health").WithSummary("Models loaded and vector store reachable (503 when not)")
            .WithTags("Health").DisableRateLimiting();
        return app;
    }

    public static Ok<HealthResponse> Alive() => TypedResults.Ok(new HealthResponse("Healthy", new Dictionary<string, HealthCheckInfo>()));

    public static async Task<Results<Ok<HealthResponse>, JsonHttpResult<HealthResponse>>> HealthAsync(HealthCheckService health, CancellationToken cancellationToken)
    {
        var report = await health.CheckHealthAsync(cancellationToken);
        var checks = new Dictionary<string, HealthCheckInfo>();
        foreach (var (name, entry) in report.Entries)
            checks[name] = new HealthCheckInfo(entry.Status.ToString(), entry.Description, entry.Data);
        var body = new HealthResponse(report.Status.ToString(), checks);
        return report.Status == HealthStatus.Unhealthy
            ? TypedResults.Json(body, statusCode: StatusCodes.Status503ServiceUnavailable)
            : TypedResults.Ok(body);
    }
}
