using System.Text.Json;
using Qdrant.Client.Grpc;
using Retro.Core;
using Retro.Core.Options;
using Retro.Core.Text;
using Retro.VectorStore.Qdrant.StandIn;
using Retro.VectorStore.Qdrant.Tests.Support;

namespace Retro.VectorStore.Qdrant.Tests;

/// <summary>BM25 through Qdrant's sparse vectors (IDF modifier) and the one-call hybrid query, over the gRPC stand-in.</summary>
public sealed class QdrantTextSearchTests : IAsyncLifetime
{
    private QdrantStandIn _standIn = null!;

    public async Task InitializeAsync() => _standIn = await QdrantStandIn.StartAsync();

    public async Task DisposeAsync() => await _standIn.DisposeAsync();

    // The embedded store's hand-computed corpus: |d| = 3, 2, 4, so an average length of 3 makes Qdrant's BM25 exact.
    private static readonly CollectionSpec Spec = new() { Name = "text", Dimension = 2, Bm25 = new Bm25Options { AverageLength = 3f } };

    private static VectorPoint Point(string document, string text, float x, float y)
        => new(new Chunk(ChunkId.From(document, 0), document, "", 0, text, [1], "", [], new Dictionary<string, string>()), new float[] { x, y });

    private static readonly VectorPoint[] Corpus =
    [
        Point("d0", "Apple banana APPLE", 1, 0),
        Point("d1", "banana, cherry!", 0.8f, 0.6f),
        Point("d2", "cherry date elderberry fig", 0, 1),
    ];

    [Fact]
    public async Task Points_carry_bm25_document_weights_next_to_the_unnamed_dense_vector()
    {
        await using var store = await TestSupport.StoreAsync(_standIn, Spec);
        await store.UpsertAsync(Corpus);

        var vectors = TestSupport.Requests(_standIn, "Points/Upsert").Single().GetProperty("points")[0].GetProperty("vectors").GetProperty("vectors").GetProperty("vectors");
        vectors.GetProperty("").GetProperty("dense").GetProperty("data").GetArrayLength().ShouldBe(2);
        var sparse = vectors.GetProperty("bm25").GetProperty("sparse");
        var indices = sparse.GetProperty("indices").EnumerateArray().Select(e => e.GetUInt32()).ToList();
        var values = sparse.GetProperty("values").EnumerateArray().Select(e => e.GetSingle()).ToList();
        // d0 = apple ×2, banana ×1, |d| = 3 = avg: apple 2·2.2 / (2 + 1.2) = 1.375; banana 2.2 / (1 + 1.2) = 1
        indices.ShouldBe(indices.Order().ToList());
        values[indices.IndexOf(TextAnalyzer.TermId("apple"))].ShouldBe(1.375f, 1e-6f);
        values[indices.IndexOf(TextAnalyzer.TermId("banana"))].ShouldBe(1f, 1e-6f);
    }

    [Fact]
    public async Task The_document_vector_is_bm25f_over_title_and_text()
    {
        await using var store = await TestSupport.StoreAsync(_standIn, Spec with { Bm25 = Spec.Bm25 with { TitleWeight = 2 } });
        var bm25 = store.Collection.Bm25;

        var vector = store.DocumentVector("Apple", "banana apple", bm25).ShouldNotBeNull();

        // title ×2 + text: apple 3, banana 1, |d| = 2 + 2 = 4
        int apple = vector.Indices.IndexOf(TextAnalyzer.TermId("apple")), banana = vector.Indices.IndexOf(TextAnalyzer.TermId("banana"));
        vector.Values[apple].ShouldBe(Bm25.TermWeight(3, 4, 3f, bm25.K1, bm25.B), 1e-6f);
        vector.Values[banana].ShouldBe(Bm25.TermWeight(1, 4, 3f, bm25.K1, bm25.B), 1e-6f);
        store.DocumentVector("", "  ", bm25).ShouldBeNull();
    }

    [Fact]
    public async Task Text_search_scores_are_bm25_and_honour_filters()
    {
        await using var store = await TestSupport.StoreAsync(_standIn, Spec);
        await store.UpsertAsync(Corpus);
        var hits = new SearchHit[10];

        int n = await store.SearchTextAsync("apple cherry", new SearchOptions { Limit = 10 }, hits);

        // The embedded store's hand-computed values (TextSearchTests): the same formula on both stores.
        n.ShouldBe(3);
        hits[..3].Select(h => h.Id).ShouldBe([Corpus[0].Id, Corpus[1].Id, Corpus[2].Id]);
        hits[..3].Select(h => h.Score).ShouldBe([1.348640f, 0.544215f, 0.413604f], 1e-5f);
        var query = TestSupport.Requests(_standIn, "Points/Query").Last();
        query.GetProperty("using").GetString().ShouldBe("bm25");
        query.GetProperty("query").GetProperty("nearest").GetProperty("sparse").GetProperty("values").EnumerateArray().ShouldAllBe(v => v.GetSingle() == 1f);

        (await store.SearchTextAsync("apple cherry", new SearchOptions { Limit = 10, ExcludeDocument = "d0" }, hits)).ShouldBe(2);
        hits[0].Id.ShouldBe(Corpus[1].Id);
        (await store.SearchTextAsync("  ", new SearchOptions(), hits)).ShouldBe(0);
        (await store.SearchTextAsync("apple", new SearchOptions { OnlyDocuments = [] }, hits)).ShouldBe(0);
    }

    [Fact]
    public async Task Hybrid_search_is_one_query_with_two_prefetches_and_rrf()
    {
        await using var store = await TestSupport.StoreAsync(_standIn, Spec);
        await store.UpsertAsync(Corpus);
        int before = _standIn.Calls.Count;
        var hits = new SearchHit[3];

        int n = await store.HybridSearchAsync(new float[] { 0, 1 }, "apple", new SearchOptions { Limit = 3, Ef = 50 }, 60, hits);

        var sent = _standIn.Calls.Skip(before).ShouldHaveSingleItem();
        sent.Method.ShouldBe("/qdrant.Points/Query");
        var body = JsonDocument.Parse(sent.RequestJson).RootElement;
        body.GetProperty("prefetch").GetArrayLength().ShouldBe(2);
        body.GetProperty("prefetch")[0].GetProperty("params").GetProperty("hnswEf").GetString().ShouldBe("50");
        body.GetProperty("prefetch")[1].GetProperty("using").GetString().ShouldBe("bm25");
        body.GetProperty("query").GetProperty("rrf").GetProperty("k").GetInt32().ShouldBe(60);
        // dense: d2, d1, d0; sparse: d0 only. d0: 1/63 + 1/61 beats d2's 1/61.
        n.ShouldBe(3);
        hits[0].Id.ShouldBe(Corpus[0].Id);
        hits[0].Score.ShouldBe(1f / 63 + 1f / 61, 1e-6f);
        hits[1].Id.ShouldBe(Corpus[2].Id);
    }

    [Fact]
    public async Task The_retriever_fuses_qdrant_dense_and_sparse_results_with_sources()
    {
        await using var store = await TestSupport.StoreAsync(_standIn, Spec);
        await store.UpsertAsync(Corpus);
        var retriever = new Retriever(new FixedEncoder(new float[] { 0, 1 }), store, store);
        retriever.CanSearchText.ShouldBeTrue();

        var result = await retriever.RetrieveAsync("apple", new RetrievalOptions { K = 3, Candidates = 3, Rerank = false, Mode = RetrievalMode.Hybrid });

        result.Neighbours.Select(n => n.Chunk.DocumentId).ShouldBe(["d0", "d2", "d1"]);
        result.Neighbours.Select(n => n.Source).ShouldBe([HitSource.Both, HitSource.Dense, HitSource.Dense]);
    }

    [Fact]
    public async Task A_collection_without_the_sparse_vector_still_works_densely_and_refuses_text_search()
    {
        using (var connection = TestSupport.Connect(_standIn))
        {
            await connection.Client.CreateCollectionAsync("old", new VectorParams { Size = 2, Distance = Distance.Cosine });
        }
        await using var store = await TestSupport.StoreAsync(_standIn, Spec with { Name = "old" });
        await store.UpsertAsync(Corpus);
        var vectors = TestSupport.Requests(_standIn, "Points/Upsert").Last().GetProperty("points")[0].GetProperty("vectors");
        vectors.TryGetProperty("vector", out _).ShouldBeTrue("the unnamed dense vector alone");
        var hits = new SearchHit[3];
        (await store.SearchAsync(new float[] { 1, 0 }, new SearchOptions { Limit = 1 }, hits)).ShouldBe(1);
        var e = await Should.ThrowAsync<InvalidOperationException>(async () => await store.SearchTextAsync("apple", new SearchOptions(), hits));
        e.Message.ShouldContain("bm25");
    }

    [Fact]
    public async Task Text_search_can_be_turned_off_by_an_empty_sparse_vector_name()
    {
        var options = TestSupport.FastRetries() with { SparseVectorName = "" };
        await using var store = await TestSupport.StoreAsync(_standIn, Spec, options);
        await store.UpsertAsync(Corpus);
        TestSupport.Requests(_standIn, "Collections/Create").Single().TryGetProperty("sparseVectorsConfig", out _).ShouldBeFalse();
        await Should.ThrowAsync<InvalidOperationException>(async () => await store.SearchTextAsync("apple", new SearchOptions(), new SearchHit[1]));
    }

    private sealed class FixedEncoder(float[] vector) : ITextEncoder
    {
        public int Dimension => vector.Length;
        public string ModelId => "fixed";
        public void Encode(ReadOnlySpan<string> texts, Span<float> destination)
        {
            for (int i = 0; i < texts.Length; i++) vector.CopyTo(destination[(i * vector.Length)..]);
        }
    }
}
