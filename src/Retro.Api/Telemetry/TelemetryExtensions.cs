using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Retro.Engine.Generation;

namespace Retro.Api.Telemetry;

/// <summary>OpenTelemetry without the hosting package: providers built by hand, owned and disposed by the container.</summary>
internal static class TelemetryExtensions
{
    /// <summary>Adds OTLP export of the Retro.* spans and metrics when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set.</summary>
    public static IServiceCollection AddRetroTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        if (string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"])) return services;
        var resource = ResourceBuilder.CreateDefault().AddService(configuration["OTEL_SERVICE_NAME"] ?? "retro-api");
        // Factories: the container disposes what it created, which flushes the exporters at shutdown.
        services.AddSingleton(_ => Sdk.CreateTracerProviderBuilder()
            .SetResourceBuilder(resource)
            .AddSource(RetroTelemetry.Name, RetroGenerator.ActivitySource.Name, "Retro.*")
            .AddOtlpExporter()
            .Build());
        services.AddSingleton(_ => Sdk.CreateMeterProviderBuilder()
            .SetResourceBuilder(resource)
            .AddMeter(RetroTelemetry.Name, "Retro.*")
            .AddOtlpExporter()
            .Build());
        services.AddHostedService<TelemetryStarter>();
        return services;
    }

    /// <summary>Creates the providers when the host starts (they listen from then on).</summary>
    private sealed class TelemetryStarter(TracerProvider tracer, MeterProvider meter) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            GC.KeepAlive(tracer);
            GC.KeepAlive(meter);
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken)
        {
            tracer.ForceFlush(2_000);
            meter.ForceFlush(2_000);
            return Task.CompletedTask;
        }
    }
}
