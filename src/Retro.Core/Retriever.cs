using System.Buffers;
using System.Diagnostics;

namespace Retro.Core;

/// <summary>
/// Dense retrieval with optional reranking: bi-encoder embedding of the query, top-candidates from the vector search,
/// chunks fetched from the chunk store, cross-encoder rerank, best k.
/// </summary>
public sealed class Retriever : IRetriever
{
    private readonly ITextEncoder _encoder;
    private readonly IVectorSearch _search;
    private readonly IChunkStore _chunks;
    private readonly IReranker? _reranker;

    public Retriever(ITextEncoder encoder, IVectorSearch search, IChunkStore chunks, IReranker? reranker = null)
    {
        _encoder = encoder ?? throw new ArgumentNullException(nameof(encoder));
        _search = search ?? throw new ArgumentNullException(nameof(search));
        _chunks = chunks ?? throw new ArgumentNullException(nameof(chunks));
        _reranker = reranker;
    }

    /// <summary>Whether a cross-encoder is available.</summary>
    public bool CanRerank => _reranker is not null;

    public async ValueTask<RetrievalResult> RetrieveAsync(string query, RetrievalOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(options);
        bool rerank = options.Rerank && _reranker is not null;
        int candidates = rerank ? Math.Max(options.Candidates, options.K) : options.K;

        long t0 = Stopwatch.GetTimestamp();
        var vector = new float[_encoder.Dimension];
        _encoder.Encode([query], vector);
        long t1 = Stopwatch.GetTimestamp();

        var searchOptions = (options.Filter ?? new SearchOptions()) with { Limit = candidates, Ef = options.Ef ?? options.Filter?.Ef };
        SearchHit[] hits = ArrayPool<SearchHit>.Shared.Rent(candidates);
        try
        {
            int found = await _search.SearchAsync(vector, searchOptions, hits.AsMemory(0, candidates), cancellationToken).ConfigureAwait(false);
            long t2 = Stopwatch.GetTimestamp();

            var ids = new ChunkId[found];
            for (int i = 0; i < found; i++) ids[i] = hits[i].Id;
            var chunks = await _chunks.GetChunksAsync(ids, cancellationToken).ConfigureAwait(false);
            long t3 = Stopwatch.GetTimestamp();

            var neighbours = new List<Neighbour>(found);
            for (int i = 0; i < found; i++)
            {
                if (chunks[i] is { } chunk) neighbours.Add(new Neighbour(chunk, hits[i].Score));
            }

            if (rerank && neighbours.Count > 0)
            {
                var texts = new string[neighbours.Count];
                for (int i = 0; i < texts.Length; i++) texts[i] = neighbours[i].Chunk.Text;
                var scores = new float[texts.Length];
                _reranker!.Score(query, texts, scores);
                for (int i = 0; i < texts.Length; i++) neighbours[i] = neighbours[i] with { RerankScore = scores[i] };
                // Stable: ties keep the vector search's order.
                neighbours = [.. neighbours.Select((n, i) => (n, i)).OrderByDescending(p => p.n.RerankScore).ThenBy(p => p.i).Select(p => p.n)];
            }
            long t4 = Stopwatch.GetTimestamp();

            if (neighbours.Count > options.K) neighbours.RemoveRange(options.K, neighbours.Count - options.K);
            return new RetrievalResult(neighbours, new RetrievalTimings
            {
                EmbedMs = Stopwatch.GetElapsedTime(t0, t1).TotalMilliseconds,
                SearchMs = Stopwatch.GetElapsedTime(t1, t2).TotalMilliseconds,
                FetchMs = Stopwatch.GetElapsedTime(t2, t3).TotalMilliseconds,
                RerankMs = rerank ? Stopwatch.GetElapsedTime(t3, t4).TotalMilliseconds : 0,
            });
        }
        finally
        {
            ArrayPool<SearchHit>.Shared.Return(hits);
        }
    }
}
