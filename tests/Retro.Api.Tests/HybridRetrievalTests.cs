using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Retro.Core;

namespace Retro.Api.Tests;

/// <summary>The retrievalMode request field and the source of each neighbour.</summary>
public sealed class HybridRetrievalTests : IClassFixture<RetroApiFactory>
{
    private readonly RetroApiFactory _factory;

    public HybridRetrievalTests(RetroApiFactory factory) => _factory = factory;

    private static async Task<List<JsonElement>> NeighboursAsync(HttpResponseMessage response)
    {
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return [.. body.GetProperty("neighbours").EnumerateArray()];
    }

    [Fact]
    public async Task The_configured_mode_is_the_default_and_neighbours_say_so()
    {
        var neighbours = await NeighboursAsync(await _factory.CreateClient().PostAsJsonAsync("/v1/retrieve", new { query = "highest mountain", k = 2, rerank = false }));
        neighbours.ShouldAllBe(n => n.GetProperty("source").GetString() == "dense");
    }

    [Fact]
    public async Task Sparse_mode_finds_chunks_by_their_words()
    {
        var neighbours = await NeighboursAsync(await _factory.CreateClient().PostAsJsonAsync("/v1/retrieve",
            new { query = "Guido Rossum", k = 3, rerank = false, retrievalMode = "sparse" }));
        // Only one sample chunk shares a word with the query.
        neighbours.Count.ShouldBe(1);
        neighbours[0].GetProperty("text").GetString()!.ShouldContain("Guido van Rossum");
        neighbours[0].GetProperty("source").GetString().ShouldBe("sparse");
        neighbours[0].GetProperty("score").GetSingle().ShouldBe(2f);
    }

    [Fact]
    public async Task Hybrid_mode_labels_each_neighbour_with_the_sides_that_found_it()
    {
        var neighbours = await NeighboursAsync(await _factory.CreateClient().PostAsJsonAsync("/v1/retrieve",
            new { query = "Louvre museum", k = 5, candidates = 5, rerank = true, retrievalMode = "hybrid" }));
        neighbours.Count.ShouldBe(5);
        var sources = neighbours.Select(n => n.GetProperty("source").GetString()).ToList();
        sources.ShouldAllBe(s => s == "dense" || s == "sparse" || s == "both");
        // The Louvre chunk is the only sparse hit, and the dense side returns every chunk (5 candidates of 5).
        neighbours.Single(n => n.GetProperty("text").GetString()!.Contains("Louvre")).GetProperty("source").GetString().ShouldBe("both");
        sources.Count(s => s == "dense").ShouldBe(4);
        neighbours.ShouldAllBe(n => n.GetProperty("rerankScore").ValueKind == JsonValueKind.Number);
    }

    [Fact]
    public async Task Answer_takes_the_mode_and_reports_sources_per_chunk()
    {
        var response = await _factory.CreateClient().PostAsJsonAsync("/v1/answer",
            new { question = "Where is the Eiffel Tower?", maxTokens = 4, k = 2, candidates = 4, retrievalMode = "sparse" });
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        var neighbours = body.GetProperty("chunks").EnumerateArray().SelectMany(c => c.GetProperty("neighbours").EnumerateArray()).ToList();
        neighbours.ShouldNotBeEmpty();
        neighbours.ShouldAllBe(n => n.GetProperty("source").GetString() == "sparse");
    }

    [Theory]
    [InlineData("/v1/retrieve", """{"query": "x", "retrievalMode": "bm42"}""")]
    [InlineData("/v1/answer", """{"question": "x", "retrievalMode": "Dense"}""")]
    [InlineData("/v1/generate", """{"prompt": "x", "retrievalMode": ""}""")]
    public async Task Unknown_mode_is_a_400_on_retrievalMode(string path, string json)
    {
        var response = await _factory.CreateClient().PostAsync(path, new StringContent(json, System.Text.Encoding.UTF8, "application/json"));
        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        problem.GetProperty("errors").EnumerateObject().Select(p => p.Name).ShouldBe(["retrievalMode"]);
    }

    [Fact]
    public async Task Sparse_mode_on_a_store_without_a_text_index_is_a_400()
    {
        using var factory = _factory.WithWebHostBuilder(b => b.ConfigureTestServices(s => s.AddSingleton<IVectorStore>(new DenseOnlyStore(_factory.Store))));
        var client = factory.CreateClient();
        var response = await client.PostAsJsonAsync("/v1/retrieve", new { query = "Paris", retrievalMode = "hybrid" });
        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        problem.GetProperty("errors").GetProperty("retrievalMode")[0].GetString()!.ShouldContain("BM25");
        (await client.PostAsJsonAsync("/v1/retrieve", new { query = "Paris", retrievalMode = "dense" })).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task The_configured_mode_is_the_default()
    {
        using var factory = _factory.WithWebHostBuilder(b => b.UseSetting("Retro:Retrieval:Mode", "Sparse"));
        var neighbours = await NeighboursAsync(await factory.CreateClient().PostAsJsonAsync("/v1/retrieve", new { query = "Pacific", rerank = false }));
        neighbours.Single().GetProperty("source").GetString().ShouldBe("sparse");
    }

    /// <summary>The test store without its text search (an <see cref="IVectorStore"/> only).</summary>
    private sealed class DenseOnlyStore(IVectorStore inner) : IVectorStore
    {
        public CollectionSpec Collection => inner.Collection;
        public ValueTask EnsureCollectionAsync(CollectionSpec spec, CancellationToken cancellationToken = default) => inner.EnsureCollectionAsync(spec, cancellationToken);
        public ValueTask UpsertAsync(IReadOnlyList<VectorPoint> points, CancellationToken cancellationToken = default) => inner.UpsertAsync(points, cancellationToken);
        public ValueTask<long> DeleteDocumentAsync(string documentId, CancellationToken cancellationToken = default) => inner.DeleteDocumentAsync(documentId, cancellationToken);
        public ValueTask FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);
        public ValueTask<bool> IsHealthyAsync(CancellationToken cancellationToken = default) => inner.IsHealthyAsync(cancellationToken);
        public ValueTask<int> SearchAsync(ReadOnlyMemory<float> query, SearchOptions options, Memory<SearchHit> results, CancellationToken cancellationToken = default)
            => inner.SearchAsync(query, options, results, cancellationToken);
        public ValueTask<long> CountAsync(CancellationToken cancellationToken = default) => inner.CountAsync(cancellationToken);
        public ValueTask<IReadOnlyList<Chunk?>> GetChunksAsync(IReadOnlyList<ChunkId> ids, CancellationToken cancellationToken = default) => inner.GetChunksAsync(ids, cancellationToken);
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
