namespace Retro.Core;

/// <summary>The read side of a vector store (as qdrant splits <c>VectorIndexRead</c> from <c>VectorIndex</c>).</summary>
public interface IVectorSearch
{
    /// <summary>
    /// Writes the nearest points to <paramref name="query"/> into <paramref name="results"/>, best first, and returns how
    /// many were written (at most <c>min(options.Limit, results.Length)</c>). The embedded store completes synchronously.
    /// </summary>
    /// <exception cref="VectorStoreUnavailableException">The store cannot be reached.</exception>
    ValueTask<int> SearchAsync(ReadOnlyMemory<float> query, SearchOptions options, Memory<SearchHit> results, CancellationToken cancellationToken = default);

    /// <summary>Number of points stored.</summary>
    ValueTask<long> CountAsync(CancellationToken cancellationToken = default);
}
