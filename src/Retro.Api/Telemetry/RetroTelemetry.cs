using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Retro.Api.Telemetry;

/// <summary>The service's own spans and metrics (exported over OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set).</summary>
public static class RetroTelemetry
{
    /// <summary>Name of the service's <see cref="ActivitySource"/> and <see cref="Meter"/>.</summary>
    public const string Name = "Retro.Api";

    /// <summary>Spans: one per /v1 request, <c>retrieve</c> for /v1/retrieve, <c>rerank</c> around every cross-encoder call.</summary>
    public static readonly ActivitySource ActivitySource = new(Name);

    /// <summary>Instruments below.</summary>
    public static readonly Meter Meter = new(Name);

    /// <summary>Wall time of a /v1 request, by route and status code.</summary>
    public static readonly Histogram<double> RequestDuration =
        Meter.CreateHistogram<double>("retro.request.duration", "ms", "Wall time of a /v1 request");

    /// <summary>Wall time of one retrieval (embed, search, fetch, rerank).</summary>
    public static readonly Histogram<double> RetrievalDuration =
        Meter.CreateHistogram<double>("retro.retrieval.duration", "ms", "Wall time of one retrieval");

    /// <summary>Decoding speed of one generation.</summary>
    public static readonly Histogram<double> TokensPerSecond =
        Meter.CreateHistogram<double>("retro.generation.tokens_per_second", "{token}/s", "Generated tokens per second of decoding");

    /// <summary>Generated tokens.</summary>
    public static readonly Counter<long> GeneratedTokens =
        Meter.CreateCounter<long>("retro.generation.tokens", "{token}", "Generated tokens");

    /// <summary>Requests refused by the concurrency limiter.</summary>
    public static readonly Counter<long> Rejected =
        Meter.CreateCounter<long>("retro.requests.rejected", "{request}", "Requests refused for load");
}
