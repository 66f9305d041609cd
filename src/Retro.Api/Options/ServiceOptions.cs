using System.ComponentModel.DataAnnotations;

namespace Retro.Api.Options;

/// <summary>Section <c>Retro:Service</c>: where the service listens, its API key, limits and start-up ingestion.</summary>
public sealed class ServiceOptions
{
    public const string Section = "Retro:Service";

    /// <summary>Listening urls (semicolon-separated) when ASPNETCORE_URLS is not set.</summary>
    [Required]
    public string Urls { get; set; } = "http://localhost:8080";

    /// <summary>When set, every /v1 request must carry it as <c>X-Api-Key</c> or <c>Authorization: Bearer</c>. Never logged.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Generation and retrieval requests served at once; more are queued up to <see cref="QueueLimit"/>.</summary>
    [Range(1, 4096)]
    public int MaxConcurrentRequests { get; set; } = 8;

    /// <summary>Requests waiting for a slot; beyond it the answer is 429 with Retry-After.</summary>
    [Range(0, 100_000)]
    public int QueueLimit { get; set; } = 16;

    /// <summary>Seconds the client is told to wait (Retry-After) when refused for load or a store outage.</summary>
    [Range(1, 3600)]
    public int RetryAfterSeconds { get; set; } = 1;

    /// <summary>Wall-clock limit of one request, streaming included, in seconds (504 when it passes before a response started).</summary>
    [Range(1, 86_400)]
    public int RequestTimeoutSeconds { get; set; } = 120;

    /// <summary>Largest request body accepted, in bytes (413 beyond).</summary>
    [Range(256, 64 * 1024 * 1024)]
    public long MaxRequestBodyBytes { get; set; } = 64 * 1024;

    /// <summary>Longest question, in characters.</summary>
    [Range(1, 1_000_000)]
    public int MaxQuestionChars { get; set; } = 2_000;

    /// <summary>Longest prompt of /v1/generate, in characters.</summary>
    [Range(1, 1_000_000)]
    public int MaxPromptChars { get; set; } = 16_000;

    /// <summary>
    /// Whether a prompt's chunk retrievals run while the prompt is prefilled: null (auto) = only with a remote store
    /// (Qdrant), whose searches wait on the network. The embedded store's searches are CPU work competing with the
    /// prefill for the same cores: overlapping them measured 136 ms against 114 ms one after the other for a
    /// 160-token prompt on 2 cores (serve benchmark).
    /// </summary>
    public bool? OverlapPromptRetrieval { get; set; }

    /// <summary>
    /// Concurrent generations whose decoder calls run as one batched call (1 = no batching): their single-token steps,
    /// and their prompt chunks' prefills, up to this many sessions and this many × chunk_size tokens a call.
    /// </summary>
    [Range(1, 256)]
    public int DecoderBatchSize { get; set; } = 8;

    /// <summary>Most new tokens a request may ask for.</summary>
    [Range(1, 4096)]
    public int MaxTokensLimit { get; set; } = 1024;

    /// <summary>Ingest <see cref="SampleCorpus"/> at start-up when the embedded store is empty.</summary>
    public bool IngestSampleWhenEmpty { get; set; } = true;

    /// <summary>The bundled sample corpus (C4-style JSON lines, gzip allowed), relative to the repository root.</summary>
    public string SampleCorpus { get; set; } = "samples/corpus/sample.jsonl.gz";
}
