using OpenTelemetry;
using OpenTelemetry.Metrics;
using Retro.Ingestion.Telemetry;

namespace Retro.Indexer.Cli;

/// <summary>
/// Exports the <c>Retro.Indexer</c> meter through OpenTelemetry OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set
/// (the exporter reads the standard <c>OTEL_*</c> variables); otherwise does nothing.
/// </summary>
public static class IndexerTelemetry
{
    /// <summary>The meter provider to dispose at exit (flushing the last export), or null when OTLP is not configured.</summary>
    public static MeterProvider? StartFromEnvironment()
    {
        if (string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT"))) return null;
        return Sdk.CreateMeterProviderBuilder()
            .AddMeter(IndexerMetrics.MeterName)
            .AddOtlpExporter()
            .Build();
    }
}
