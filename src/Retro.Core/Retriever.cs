using System.Buffers;
using System.Diagnostics;
using Retro.Core.Options;

namespace Retro.Core;

/// <summary>
/// Retrieval with optional reranking: candidates from the dense vector search (bi-encoder embedding of the query), the
/// sparse BM25 search, or both fused (<see cref="RetrievalOptions.Mode"/>); chunks fetched from the chunk store;
/// cross-encoder rerank; best k. Each neighbour says which side found it.
/// </summary>
public sealed class Retriever : IRetriever
{
    private readonly ITextEncoder _encoder;
    private readonly IVectorSearch _search;
    private readonly IChunkStore _chunks;
    private readonly IReranker? _reranker;
    private readonly ITextSearch? _text;

    /// <summary>
    /// A retriever over <paramref name="search"/> and <paramref name="chunks"/>; the sparse side is
    /// <paramref name="textSearch"/>, else <paramref name="search"/> when it implements <see cref="ITextSearch"/>.
    /// </summary>
    public Retriever(ITextEncoder encoder, IVectorSearch search, IChunkStore chunks, IReranker? reranker = null, ITextSearch? textSearch = null)
    {
        _encoder = encoder ?? throw new ArgumentNullException(nameof(encoder));
        _search = search ?? throw new ArgumentNullException(nameof(search));
        _chunks = chunks ?? throw new ArgumentNullException(nameof(chunks));
        _reranker = reranker;
        _text = textSearch ?? search as ITextSearch;
    }

    /// <summary>Whether a cross-encoder is available.</summary>
    public bool CanRerank => _reranker is not null;

    /// <summary>Whether sparse and hybrid modes are available (a text search was given or the vector search has one).</summary>
    public bool CanSearchText => _text is not null;

    /// <inheritdoc />
    /// <exception cref="InvalidOperationException">Sparse or hybrid mode without a text search.</exception>
    public async ValueTask<RetrievalResult> RetrieveAsync(string query, RetrievalOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(options);
        var mode = options.Mode;
        if (mode is not (RetrievalMode.Dense or RetrievalMode.Sparse or RetrievalMode.Hybrid))
            throw new ArgumentOutOfRangeException(nameof(options), mode, "unknown retrieval mode");
        if (mode != RetrievalMode.Dense && _text is null)
            throw new InvalidOperationException($"retrieval mode {mode} needs a text (BM25) search; this store has none");
        bool rerank = options.Rerank && _reranker is not null;
        int candidates = rerank || mode == RetrievalMode.Hybrid ? Math.Max(options.Candidates, options.K) : options.K;
        var searchOptions = (options.Filter ?? new SearchOptions()) with { Limit = candidates, Ef = options.Ef ?? options.Filter?.Ef };

        long t0 = Stopwatch.GetTimestamp();
        float[]? vector = null;
        if (mode != RetrievalMode.Sparse)
        {
            vector = new float[_encoder.Dimension];
            _encoder.Encode([query], vector);
        }
        long t1 = Stopwatch.GetTimestamp();

        SearchHit[] dense = ArrayPool<SearchHit>.Shared.Rent(candidates);
        SearchHit[] sparse = ArrayPool<SearchHit>.Shared.Rent(candidates);
        try
        {
            var denseTask = vector is null ? ValueTask.FromResult(0) : _search.SearchAsync(vector, searchOptions, dense.AsMemory(0, candidates), cancellationToken);
            var sparseTask = mode == RetrievalMode.Dense ? ValueTask.FromResult(0) : _text!.SearchTextAsync(query, searchOptions, sparse.AsMemory(0, candidates), cancellationToken);
            int denseFound = await denseTask.ConfigureAwait(false);
            int sparseFound = await sparseTask.ConfigureAwait(false);
            SearchHit[] hits;
            int found;
            switch (mode)
            {
                case RetrievalMode.Dense:
                    (hits, found) = (dense, denseFound);
                    Label(hits.AsSpan(0, found), HitSource.Dense);
                    break;
                case RetrievalMode.Sparse:
                    (hits, found) = (sparse, sparseFound);
                    Label(hits.AsSpan(0, found), HitSource.Sparse);
                    break;
                default:
                    hits = new SearchHit[denseFound + sparseFound];
                    found = HitFusion.Fuse(dense.AsSpan(0, denseFound), sparse.AsSpan(0, sparseFound), options.Fusion, options.RrfK, options.DenseWeight, hits);
                    found = Math.Min(found, candidates);
                    break;
            }
            long t2 = Stopwatch.GetTimestamp();

            var ids = new ChunkId[found];
            for (int i = 0; i < found; i++) ids[i] = hits[i].Id;
            var chunks = await _chunks.GetChunksAsync(ids, cancellationToken).ConfigureAwait(false);
            long t3 = Stopwatch.GetTimestamp();

            var neighbours = new List<Neighbour>(found);
            for (int i = 0; i < found; i++)
            {
                if (chunks[i] is { } chunk) neighbours.Add(new Neighbour(chunk, hits[i].Score) { Source = hits[i].Source });
            }

            if (rerank && neighbours.Count > 0)
            {
                var scores = new float[neighbours.Count];
                _reranker!.Score(query, neighbours, scores); // first-stage order; the cross-encoder reads title + text, as embedded
                for (int i = 0; i < scores.Length; i++) neighbours[i] = neighbours[i] with { RerankScore = scores[i] };
                // a reranker that weighs the first stage's order (the learned ranker) decides alone
                neighbours = RerankOrder(neighbours, scores, _reranker.WeighsFirstStage ? 1f : options.RerankWeight, options.RrfK);
            }
            long t4 = Stopwatch.GetTimestamp();

            if (neighbours.Count > options.K) neighbours.RemoveRange(options.K, neighbours.Count - options.K);
            return new RetrievalResult(neighbours, new RetrievalTimings
            {
                EmbedMs = Stopwatch.GetElapsedTime(t0, t1).TotalMilliseconds,
                SearchMs = Stopwatch.GetElapsedTime(t1, t2).TotalMilliseconds,
                FetchMs = Stopwatch.GetElapsedTime(t2, t3).TotalMilliseconds,
                RerankMs = rerank ? Stopwatch.GetElapsedTime(t3, t4).TotalMilliseconds : 0,
                TotalMs = Stopwatch.GetElapsedTime(t0, t4).TotalMilliseconds,
            });
        }
        finally
        {
            ArrayPool<SearchHit>.Shared.Return(dense);
            ArrayPool<SearchHit>.Shared.Return(sparse);
        }
    }

    /// <summary>
    /// The candidates (in first-stage order) reordered by the cross-encoder's <paramref name="scores"/> fused with
    /// their first-stage rank: (1 − w) / (k + first-stage rank) + w / (k + cross-encoder rank). Stable: ties keep the
    /// first stage's order, so w = 1 is the cross-encoder's order and w = 0 the first stage's.
    /// </summary>
    internal static List<Neighbour> RerankOrder(List<Neighbour> candidates, ReadOnlySpan<float> scores, float weight, int k)
    {
        int n = candidates.Count;
        var byScore = new int[n];
        for (int i = 0; i < n; i++) byScore[i] = i;
        var s = scores.ToArray();
        Array.Sort(byScore, (a, b) => s[b].CompareTo(s[a]) is var c && c != 0 ? c : a.CompareTo(b));
        var fused = new double[n];
        for (int r = 0; r < n; r++) fused[byScore[r]] += weight / (double)(k + r + 1);
        for (int i = 0; i < n; i++) fused[i] += (1 - weight) / (double)(k + i + 1);
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        Array.Sort(order, (a, b) => fused[b].CompareTo(fused[a]) is var c && c != 0 ? c : a.CompareTo(b));
        var result = new List<Neighbour>(n);
        foreach (int i in order) result.Add(candidates[i]);
        return result;
    }

    private static void Label(Span<SearchHit> hits, HitSource source)
    {
        for (int i = 0; i < hits.Length; i++) hits[i] = hits[i] with { Source = source };
    }
}
