using Retro.Core;
using Retro.Core.Options;

namespace Retro.Core.Tests;

public class RetrieverTests
{
    // Encoder that maps a text to a one-hot vector by its first letter: lets the test control similarity exactly.
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

    // In-memory brute-force search over (chunk, vector) with the SearchOptions filter semantics.
    private sealed class ListStore(List<(Chunk Chunk, float[] Vector)> points) : IVectorSearch, IChunkStore
    {
        public SearchOptions? LastOptions;

        public ValueTask<int> SearchAsync(ReadOnlyMemory<float> query, SearchOptions options, Memory<SearchHit> results, CancellationToken cancellationToken = default)
        {
            LastOptions = options;
            var q = query.ToArray();
            var hits = points.Where(p => options.Accepts(p.Chunk))
                .Select(p => new SearchHit(p.Chunk.Id, p.Vector.Zip(q, (a, b) => a * b).Sum()))
                .OrderByDescending(h => h.Score).Take(Math.Min(options.Limit, results.Length)).ToArray();
            hits.CopyTo(results.Span);
            return ValueTask.FromResult(hits.Length);
        }

        public ValueTask<long> CountAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult((long)points.Count);

        public ValueTask<IReadOnlyList<Chunk?>> GetChunksAsync(IReadOnlyList<ChunkId> ids, CancellationToken cancellationToken = default)
            => ValueTask.FromResult<IReadOnlyList<Chunk?>>(ids.Select(id => (Chunk?)points.FirstOrDefault(p => p.Chunk.Id == id).Chunk).ToList());
    }

    // Reranker that prefers longer texts.
    private sealed class LengthReranker : IReranker
    {
        public string ModelId => "length";
        public void Score(string query, ReadOnlySpan<string> candidates, Span<float> scores)
        {
            for (int i = 0; i < candidates.Length; i++) scores[i] = candidates[i].Length;
        }
    }

    private static (ListStore Store, LetterEncoder Encoder) Build()
    {
        var encoder = new LetterEncoder();
        var points = new List<(Chunk, float[])>();
        string[] texts = ["apple", "avocado pear", "apricot jam and toast", "banana", "blueberry"];
        for (int i = 0; i < texts.Length; i++)
        {
            var vector = new float[26];
            encoder.Encode([texts[i]], vector);
            // Slightly different scores within a letter so the vector order is known: earlier = closer.
            vector[char.ToLowerInvariant(texts[i][0]) - 'a'] = 1f - i * 0.01f;
            points.Add((TestChunks.Make("doc" + i, 0, texts[i]), vector));
        }
        return (new ListStore(points), encoder);
    }

    [Fact]
    public async Task Without_rerank_returns_the_k_nearest_in_search_order()
    {
        var (store, encoder) = Build();
        var retriever = new Retriever(encoder, store, store);
        var result = await retriever.RetrieveAsync("a question", new RetrievalOptions { K = 2, Rerank = false });
        result.Neighbours.Select(n => n.Chunk.Text).ShouldBe(["apple", "avocado pear"]);
        result.Neighbours.ShouldAllBe(n => n.RerankScore == null);
        store.LastOptions!.Limit.ShouldBe(2);
    }

    [Fact]
    public async Task Rerank_takes_candidates_then_keeps_the_best_k_by_cross_encoder()
    {
        var (store, encoder) = Build();
        var retriever = new Retriever(encoder, store, store, new LengthReranker());
        var result = await retriever.RetrieveAsync("a question", new RetrievalOptions { K = 2, Candidates = 3, Rerank = true });
        store.LastOptions!.Limit.ShouldBe(3);
        result.Neighbours.Select(n => n.Chunk.Text).ShouldBe(["apricot jam and toast", "avocado pear"]);
        result.Neighbours[0].RerankScore.ShouldBe(21f);
        result.Neighbours[0].Score.ShouldBeGreaterThan(0f);
    }

    [Theory]
    // first stage: apple, avocado pear, apricot jam and toast; cross-encoder (length): apricot, avocado, apple.
    // fused with k = 1: (1 - w) / (1 + first-stage rank) + w / (1 + cross-encoder rank)
    [InlineData(0f, new[] { "apple", "avocado pear", "apricot jam and toast" })]
    [InlineData(0.45f, new[] { "apple", "apricot jam and toast", "avocado pear" })]
    [InlineData(0.7f, new[] { "apricot jam and toast", "avocado pear", "apple" })]
    [InlineData(1f, new[] { "apricot jam and toast", "avocado pear", "apple" })]
    public async Task Rerank_weight_fuses_the_cross_encoder_rank_with_the_first_stage_rank(float weight, string[] expected)
    {
        var (store, encoder) = Build();
        var retriever = new Retriever(encoder, store, store, new LengthReranker());
        var result = await retriever.RetrieveAsync("a question", new RetrievalOptions { K = 3, Candidates = 3, Rerank = true, RerankWeight = weight, RrfK = 1 });
        result.Neighbours.Select(n => n.Chunk.Text).ShouldBe(expected);
        // every candidate keeps its own cross-encoder score, whatever the order
        result.Neighbours.ShouldAllBe(n => n.RerankScore == n.Chunk.Text.Length);
    }

    [Fact]
    public async Task Rerank_requested_without_a_reranker_falls_back_to_vector_order()
    {
        var (store, encoder) = Build();
        var retriever = new Retriever(encoder, store, store);
        retriever.CanRerank.ShouldBeFalse();
        var result = await retriever.RetrieveAsync("b", new RetrievalOptions { K = 1, Candidates = 5, Rerank = true });
        result.Neighbours.Single().Chunk.Text.ShouldBe("banana");
        store.LastOptions!.Limit.ShouldBe(1);
    }

    [Fact]
    public async Task The_filter_reaches_the_search()
    {
        var (store, encoder) = Build();
        var retriever = new Retriever(encoder, store, store);
        var result = await retriever.RetrieveAsync("a", new RetrievalOptions { K = 5, Rerank = false, Filter = new SearchOptions { ExcludeDocument = "doc0" } });
        result.Neighbours.ShouldNotContain(n => n.Chunk.DocumentId == "doc0");
        result.Neighbours.Count.ShouldBe(4);
    }

    [Fact]
    public async Task The_retriever_measures_its_stages_and_their_total_once()
    {
        var (store, encoder) = Build();
        var slow = new SlowReranker(new LengthReranker(), TimeSpan.FromMilliseconds(30));
        var result = await new Retriever(encoder, store, store, slow).RetrieveAsync("a", new RetrievalOptions { K = 2, Candidates = 3, Rerank = true });
        var t = result.Timings;
        t.RerankMs.ShouldBeGreaterThanOrEqualTo(25);
        t.TotalMs.ShouldBeGreaterThanOrEqualTo(t.EmbedMs + t.SearchMs + t.FetchMs + t.RerankMs - 1e-6);
        (await NullRetriever.Instance.RetrieveAsync("a", new RetrievalOptions())).Timings.TotalMs.ShouldBe(0);
    }

    private sealed class SlowReranker(IReranker inner, TimeSpan delay) : IReranker
    {
        public string ModelId => inner.ModelId;
        public void Score(string query, ReadOnlySpan<string> candidates, Span<float> scores)
        {
            Thread.Sleep(delay);
            inner.Score(query, candidates, scores);
        }
    }

    [Fact]
    public async Task Closed_book_retriever_returns_nothing()
    {
        var result = await NullRetriever.Instance.RetrieveAsync("anything", new RetrievalOptions());
        result.Neighbours.ShouldBeEmpty();
    }
}
