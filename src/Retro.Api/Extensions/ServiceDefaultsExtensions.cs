using Microsoft.Extensions.Configuration.Json;
using Retro.Api.Apis;
using Retro.Api.Hosting;
using Retro.Api.Infrastructure;
using Retro.Api.Options;
using Retro.Api.Telemetry;

namespace Retro.Api.Extensions;

/// <summary>Cross-cutting defaults: configuration, listening urls, telemetry, health, OpenAPI, the page.</summary>
public static class ServiceDefaultsExtensions
{
    /// <summary>
    /// Adds the repository's <c>appsettings.json</c> (copied beside the assembly) under the host's own sources, the
    /// listening urls from <c>Retro:Service:Urls</c> unless ASPNETCORE_URLS is set, OpenTelemetry (OTLP when its endpoint
    /// is set), health checks and the OpenAPI document.
    /// </summary>
    public static WebApplicationBuilder AddRetroDefaults(this WebApplicationBuilder builder)
    {
        string shipped = Path.Combine(AppContext.BaseDirectory, "appsettings.json");
        if (File.Exists(shipped))
        {
            // Lowest precedence: the content root's appsettings.json, environment variables and arguments override it.
            // ResolveFileProvider: without it the absolute path is looked up under the content root's file provider,
            // and (the source being optional) the shipped settings were silently ignored.
            var source = new JsonConfigurationSource { Path = shipped, Optional = false, ReloadOnChange = false };
            source.ResolveFileProvider();
            builder.Configuration.Sources.Insert(0, source);
        }
        if (string.IsNullOrEmpty(builder.Configuration["ASPNETCORE_URLS"]) && string.IsNullOrEmpty(builder.Configuration["urls"]))
            builder.WebHost.UseUrls((builder.Configuration[$"{ServiceOptions.Section}:Urls"] ?? new ServiceOptions().Urls).Split(';', StringSplitOptions.RemoveEmptyEntries));

        builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning); // per-request framework chatter; Logging:LogLevel overrides
        builder.Services.AddRetroTelemetry(builder.Configuration);
        builder.Services.AddHealthChecks()
            .AddCheck<ModelsHealthCheck>("models", tags: ["ready"])
            .AddCheck<StoreHealthCheck>("store", tags: ["ready"]);
        builder.Services.AddOpenApi();
        return builder;
    }

    /// <summary>
    /// Middleware (problem details for errors and status codes, body limit, API key, concurrency limit, timeouts,
    /// request telemetry) and the non-API endpoints: <c>/alive</c>, <c>/health</c>, <c>/openapi/v1.json</c>, <c>/</c>.
    /// </summary>
    public static WebApplication MapRetroDefaults(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseMiddleware<RequestTelemetryMiddleware>();
        app.UseMiddleware<RequestBodyLimitMiddleware>();
        app.UseMiddleware<ApiKeyMiddleware>();
        app.UseRateLimiter();
        app.UseRequestTimeouts();

        app.MapHealthApi();
        app.MapOpenApi();
        app.MapGet("/", WebPage.Get).WithName("Page").WithSummary("A small page to ask questions").ExcludeFromDescription();
        return app;
    }
}
