using Retro.Core;
using Retro.Core.Options;

namespace Retro.Core.Tests;

public class HybridRetrieverTests
{
    // One-hot by first letter: dense similarity is "same first letter".
    private sealed class LetterEncoder : ITextEncoder
    {
        public int Dimension => 26;
        public string ModelId => "letters";
        public int Calls;

        public void Encode(ReadOnlySpan<string> texts, Span<float> destination)
        {
            Calls++;
            destination.Clear();
            for (int i = 0; i < texts.Length; i++) destination[i * 26 + (char.ToLowerInvariant(texts[i][0]) - 'a')] = 1f;
        }
    }

    // Dense: dot product; sparse: number of query words the text contains; both honour the filter.
    private sealed class Store(List<(Chunk Chunk, float[] Vector)> points) : IVectorSearch, IChunkStore, ITextSearch
    {
        public SearchOptions? LastDense, LastSparse;

        public ValueTask<int> SearchAsync(ReadOnlyMemory<float> query, SearchOptions options, Memory<SearchHit> results, CancellationToken cancellationToken = default)
        {
            LastDense = options;
            var q = query.ToArray();
            return Write(points.Where(p => options.Accepts(p.Chunk)).Select(p => new SearchHit(p.Chunk.Id, p.Vector.Zip(q, (a, b) => a * b).Sum())), options, results);
        }

        public ValueTask<int> SearchTextAsync(string query, SearchOptions options, Memory<SearchHit> results, CancellationToken cancellationToken = default)
        {
            LastSparse = options;
            var words = query.Split(' ');
            return Write(points.Where(p => options.Accepts(p.Chunk))
                .Select(p => new SearchHit(p.Chunk.Id, words.Count(w => p.Chunk.Text.Split(' ').Contains(w))))
                .Where(h => h.Score > 0), options, results);
        }

        private static ValueTask<int> Write(IEnumerable<SearchHit> hits, SearchOptions options, Memory<SearchHit> results)
        {
            var best = hits.OrderByDescending(h => h.Score).Take(Math.Min(options.Limit, results.Length)).ToArray();
            best.CopyTo(results.Span);
            return ValueTask.FromResult(best.Length);
        }

        public ValueTask<long> CountAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult((long)points.Count);

        public ValueTask<IReadOnlyList<Chunk?>> GetChunksAsync(IReadOnlyList<ChunkId> ids, CancellationToken cancellationToken = default)
            => ValueTask.FromResult<IReadOnlyList<Chunk?>>(ids.Select(id => (Chunk?)points.FirstOrDefault(p => p.Chunk.Id == id).Chunk).ToList());
    }

    private sealed class LengthReranker : IReranker
    {
        public string ModelId => "length";
        public void Score(string query, ReadOnlySpan<string> candidates, Span<float> scores)
        {
            for (int i = 0; i < candidates.Length; i++) scores[i] = candidates[i].Length;
        }
    }

    private static (Store Store, LetterEncoder Encoder) Build()
    {
        var encoder = new LetterEncoder();
        var points = new List<(Chunk, float[])>();
        string[] texts = ["apple pie", "avocado", "zebra apple", "kiwi", "zucchini apple pie recipe"];
        for (int i = 0; i < texts.Length; i++)
        {
            var vector = new float[26];
            encoder.Encode([texts[i]], vector);
            vector[texts[i][0] - 'a'] = 1f - i * 0.01f;
            points.Add((TestChunks.Make("doc" + i, 0, texts[i]), vector));
        }
        return (new Store(points), encoder);
    }

    [Fact]
    public async Task Dense_is_the_default_and_labels_neighbours_dense()
    {
        var (store, encoder) = Build();
        var result = await new Retriever(encoder, store, store).RetrieveAsync("apple", new RetrievalOptions { K = 2, Rerank = false });
        result.Neighbours.Select(n => n.Chunk.Text).ShouldBe(["apple pie", "avocado"]);
        result.Neighbours.ShouldAllBe(n => n.Source == HitSource.Dense);
        store.LastSparse.ShouldBeNull();
    }

    [Fact]
    public async Task Sparse_mode_skips_the_encoder_and_ranks_by_text()
    {
        var (store, encoder) = Build();
        encoder.Calls = 0;
        var result = await new Retriever(encoder, store, store).RetrieveAsync("apple pie", new RetrievalOptions { K = 2, Rerank = false, Mode = RetrievalMode.Sparse });
        encoder.Calls.ShouldBe(0);
        store.LastDense.ShouldBeNull();
        result.Neighbours.Select(n => n.Chunk.Text).ShouldBe(["apple pie", "zucchini apple pie recipe"]);
        result.Neighbours.ShouldAllBe(n => n.Source == HitSource.Sparse);
        result.Neighbours[0].Score.ShouldBe(2f);
    }

    [Fact]
    public async Task Hybrid_fuses_both_sides_with_rrf_and_reports_sources()
    {
        var (store, encoder) = Build();
        var options = new RetrievalOptions { K = 4, Candidates = 4, Rerank = false, Mode = RetrievalMode.Hybrid };
        var result = await new Retriever(encoder, store, store).RetrieveAsync("apple pie", options);
        // dense: apple pie, avocado (the 'a' texts), zebra, kiwi (zero scores); sparse: apple pie (2), zucchini (2), zebra (1).
        store.LastDense!.Limit.ShouldBe(4);
        store.LastSparse!.Limit.ShouldBe(4);
        result.Neighbours[0].Chunk.Text.ShouldBe("apple pie");
        result.Neighbours[0].Source.ShouldBe(HitSource.Both);
        result.Neighbours[0].Score.ShouldBe(2 * 0.5f / 61, 1e-6f); // rank 1 on both sides, each weighing 0.5
        result.Neighbours.Select(n => n.Chunk.Text).ShouldContain("zucchini apple pie recipe");
        result.Neighbours.Single(n => n.Chunk.Text == "zucchini apple pie recipe").Source.ShouldBe(HitSource.Sparse);
        result.Neighbours.Single(n => n.Chunk.Text == "avocado").Source.ShouldBe(HitSource.Dense);
        // zebra: 1/63 + 1/63 beats avocado and zucchini (1/62 each; tie broken by the dense rank).
        result.Neighbours.Select(n => n.Chunk.Text).ShouldBe(["apple pie", "zebra apple", "avocado", "zucchini apple pie recipe"]);
    }

    [Fact]
    public async Task Hybrid_candidates_go_to_the_reranker_and_the_filter_reaches_both_sides()
    {
        var (store, encoder) = Build();
        var filter = new SearchOptions { ExcludeDocument = "doc0" };
        var options = new RetrievalOptions { K = 1, Candidates = 3, Mode = RetrievalMode.Hybrid, Filter = filter, Fusion = FusionMethod.Weighted };
        var result = await new Retriever(encoder, store, store, new LengthReranker()).RetrieveAsync("apple pie", options);
        store.LastDense!.ExcludeDocument.ShouldBe("doc0");
        store.LastSparse!.ExcludeDocument.ShouldBe("doc0");
        result.Neighbours.Single().Chunk.Text.ShouldBe("zucchini apple pie recipe");
        result.Neighbours.Single().RerankScore.ShouldBe(25f);
        result.Neighbours.Single().Source.ShouldBe(HitSource.Sparse);
    }

    [Fact]
    public async Task Sparse_mode_without_a_text_search_fails_clearly()
    {
        var (store, encoder) = Build();
        var denseOnly = new DenseOnly(store);
        var retriever = new Retriever(encoder, denseOnly, store);
        retriever.CanSearchText.ShouldBeFalse();
        var e = await Should.ThrowAsync<InvalidOperationException>(async () => await retriever.RetrieveAsync("x", new RetrievalOptions { Mode = RetrievalMode.Hybrid }));
        e.Message.ShouldContain("Hybrid");
        new Retriever(encoder, denseOnly, store, textSearch: store).CanSearchText.ShouldBeTrue();
    }

    private sealed class DenseOnly(IVectorSearch inner) : IVectorSearch
    {
        public ValueTask<int> SearchAsync(ReadOnlyMemory<float> query, SearchOptions options, Memory<SearchHit> results, CancellationToken cancellationToken = default)
            => inner.SearchAsync(query, options, results, cancellationToken);

        public ValueTask<long> CountAsync(CancellationToken cancellationToken = default) => inner.CountAsync(cancellationToken);
    }
}
