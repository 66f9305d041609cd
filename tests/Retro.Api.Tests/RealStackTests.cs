using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Retro.Api.Tests;

/// <summary>
/// The service with every real component: fixture models (bert-tiny, cross-tiny, retro-tiny) on the CPU backend, the
/// embedded vector store in a temporary folder, and first-start ingestion of a small corpus through the indexer.
/// </summary>
public sealed class RealStackTests : IClassFixture<RealStackTests.Factory>
{
    private readonly Factory _factory;

    public RealStackTests(Factory factory) => _factory = factory;

    [Fact]
    public async Task First_start_ingests_the_corpus_into_the_empty_embedded_store()
    {
        var health = await _factory.CreateClient().GetFromJsonAsync<JsonElement>("/health");
        health.GetProperty("status").GetString().ShouldBe("Healthy");
        health.GetProperty("checks").GetProperty("store").GetProperty("data").GetProperty("points").GetInt64().ShouldBeGreaterThanOrEqualTo(Factory.Documents.Length);
        health.GetProperty("checks").GetProperty("models").GetProperty("data").GetProperty("decoder").GetString()!.ShouldStartWith("retro-tiny@");
    }

    [Fact]
    public async Task Answer_cites_corpus_chunks_reranked_and_closed_book_cites_none()
    {
        var client = _factory.CreateClient();
        var response = await client.PostAsJsonAsync("/v1/answer", new { question = "Where is the Eiffel Tower?", maxTokens = 8, k = 2, candidates = 4 });
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        body.GetProperty("usage").GetProperty("promptTokens").GetInt32().ShouldBe(64);
        body.GetProperty("usage").GetProperty("completionTokens").GetInt32().ShouldBeInRange(1, 8);
        var neighbours = body.GetProperty("chunks")[0].GetProperty("neighbours").EnumerateArray().ToList();
        neighbours.Count.ShouldBe(2);
        foreach (var n in neighbours)
        {
            n.GetProperty("url").GetString()!.ShouldStartWith("https://example.org/");
            Factory.Documents.ShouldContain(d => d.Contains(n.GetProperty("text").GetString()!.Trim()));
            n.GetProperty("rerankScore").ValueKind.ShouldBe(JsonValueKind.Number);
        }
        body.GetProperty("models").GetProperty("encoder").GetString()!.ShouldStartWith("bert-tiny@");
        body.GetProperty("models").GetProperty("reranker").GetString()!.ShouldStartWith("cross-tiny@");

        var closed = await (await client.PostAsJsonAsync("/v1/answer", new { question = "Where is the Eiffel Tower?", maxTokens = 8, mode = "closed-book" }))
            .Content.ReadFromJsonAsync<JsonElement>();
        closed.GetProperty("chunks")[0].GetProperty("neighbours").GetArrayLength().ShouldBe(0);
    }

    [Fact]
    public async Task Retrieve_returns_corpus_chunks()
    {
        var body = await (await _factory.CreateClient().PostAsJsonAsync("/v1/retrieve", new { query = "highest mountain in the Himalayas", k = 3 }))
            .Content.ReadFromJsonAsync<JsonElement>();
        body.GetProperty("neighbours").GetArrayLength().ShouldBe(3);
    }

    public sealed class Factory : WebApplicationFactory<Program>
    {
        public static readonly string[] Documents =
        [
            "The Eiffel Tower is a wrought-iron lattice tower in Paris, France, completed in 1889.",
            "Mount Everest is the highest mountain above sea level, in the Himalayas.",
            "The Pacific Ocean is the largest and deepest of the oceans of the Earth.",
            "Paris is the capital of France and hosts the Louvre museum.",
            "A vector index stores dense embeddings so that a search returns the nearest chunks.",
        ];

        private readonly string _folder = Directory.CreateTempSubdirectory("retro-api-tests-").FullName;

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            string corpus = Path.Combine(_folder, "corpus.jsonl");
            File.WriteAllLines(corpus, Documents.Select((d, i) => JsonSerializer.Serialize(new { text = d, url = $"https://example.org/{i}" })));
            Repo.UseFixtureStack(builder, Path.Combine(_folder, "store"), corpus);
            builder.UseSetting("Retro:Retrieval:Mode", "Dense"); // what these tests exercise, whatever appsettings.json ships
            builder.UseSetting("Retro:Retrieval:Rerank", "true");
        }

        protected override void Dispose(bool disposing)
        {
            base.Dispose(disposing);
            try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
        }
    }
}
