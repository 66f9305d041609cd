using Retro.Indexer.Cli;

namespace Retro.Indexer.Tests;

public sealed class TelemetryTests
{
    [Fact]
    public void Otlp_export_starts_only_when_its_endpoint_is_set()
    {
        const string Variable = "OTEL_EXPORTER_OTLP_ENDPOINT";
        string? before = Environment.GetEnvironmentVariable(Variable);
        try
        {
            Environment.SetEnvironmentVariable(Variable, null);
            IndexerTelemetry.StartFromEnvironment().ShouldBeNull();
            Environment.SetEnvironmentVariable(Variable, "http://127.0.0.1:4317");
            using var provider = IndexerTelemetry.StartFromEnvironment();
            provider.ShouldNotBeNull();
        }
        finally
        {
            Environment.SetEnvironmentVariable(Variable, before);
        }
    }
}
