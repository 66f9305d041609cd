namespace Retro.VectorStore;

/// <summary>Tuning of an <see cref="EmbeddedVectorStore"/> (the collection's own parameters live in its spec).</summary>
public sealed record EmbeddedStoreOptions
{
    /// <summary>Threads that insert a large batch into the graph (default: all cores).</summary>
    public int BuildThreads { get; init; } = Environment.ProcessorCount;

    /// <summary>Nodes inserted between automatic graph saves; bounds the repair work after a crash.</summary>
    public int GraphSaveInterval { get; init; } = 50_000;

    /// <summary>A filter naming documents with at most this many points is answered by exact brute force.</summary>
    public int BruteForceThreshold { get; init; } = 2_048;

    /// <summary>Algorithm 4's keepPrunedConnections for new graphs.</summary>
    public bool KeepPrunedConnections { get; init; }
}
