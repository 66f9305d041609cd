namespace Retro.Ingestion.Pipeline;

/// <summary>How the pipeline runs: batch sizes, degrees of parallelism, limits.</summary>
public sealed record IngestOptions
{
    /// <summary>Chunks per bi-encoder call (and per store upsert), 1..4096.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>
    /// Tokenization workers, 1..256. Default: one per two cores: tokenizing costs ~1% of embedding, and more workers
    /// only preempt the bi-encoder's own threads (which use every core).
    /// </summary>
    public int Parallelism { get; init; } = DefaultParallelism;

    /// <summary>The default <see cref="Parallelism"/> on this machine.</summary>
    public static int DefaultParallelism => Math.Max(1, Environment.ProcessorCount / 2);

    /// <summary>Concurrent bi-encoder calls, 1..64 (the encoder parallelises inside a call; 1 suits small machines).</summary>
    public int EmbedConcurrency { get; init; } = 1;

    /// <summary>Longest accepted record (a JSON line) in bytes; longer ones are rejected as too large.</summary>
    public int MaxDocumentBytes { get; init; } = 8 << 20;

    /// <summary>Checks every value and throws <see cref="ArgumentOutOfRangeException"/> naming the first bad one.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(BatchSize, 1, nameof(BatchSize));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(BatchSize, 4096, nameof(BatchSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(Parallelism, 1, nameof(Parallelism));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(Parallelism, 256, nameof(Parallelism));
        ArgumentOutOfRangeException.ThrowIfLessThan(EmbedConcurrency, 1, nameof(EmbedConcurrency));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(EmbedConcurrency, 64, nameof(EmbedConcurrency));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxDocumentBytes, 16, nameof(MaxDocumentBytes));
    }
}
