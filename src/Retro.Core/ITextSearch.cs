namespace Retro.Core;

/// <summary>Sparse (keyword) search over chunk text: BM25 in both Retro stores.</summary>
public interface ITextSearch
{
    /// <summary>
    /// Writes the best-scoring points for <paramref name="query"/> into <paramref name="results"/>, best first (BM25,
    /// higher is better; only points sharing at least one term with the query), and returns how many were written (at
    /// most <c>min(options.Limit, results.Length)</c>). The filters of <paramref name="options"/> apply; <c>Ef</c> is ignored.
    /// </summary>
    /// <exception cref="VectorStoreUnavailableException">The store cannot be reached.</exception>
    /// <exception cref="InvalidOperationException">The collection has no text index.</exception>
    ValueTask<int> SearchTextAsync(string query, SearchOptions options, Memory<SearchHit> results, CancellationToken cancellationToken = default);
}
