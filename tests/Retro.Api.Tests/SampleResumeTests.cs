using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Retro.Core;
using Retro.Core.Options;
using Retro.Ingestion.Reading;
using Retro.VectorStore;

namespace Retro.Api.Tests;

/// <summary>
/// First start with a store that is not empty: an interrupted sample ingestion (a checkpoint that is not complete)
/// resumes from its checkpoint; a store filled otherwise (no checkpoint for the sample) is served as it is.
/// </summary>
public sealed class SampleResumeTests : IDisposable
{
    private static readonly string[] Documents =
    [
        "The Eiffel Tower is a wrought-iron lattice tower in Paris, France, completed in 1889.",
        "Mount Everest is the highest mountain above sea level, in the Himalayas.",
        "The Pacific Ocean is the largest and deepest of the oceans of the Earth.",
        "Paris is the capital of France and hosts the Louvre museum.",
        "A vector index stores dense embeddings so that a search returns the nearest chunks.",
    ];

    private readonly string _folder = Directory.CreateTempSubdirectory("retro-api-resume-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }

    [Fact]
    public async Task An_interrupted_sample_ingestion_resumes_from_its_checkpoint()
    {
        string corpus = WriteCorpus();
        var lines = File.ReadAllLines(corpus);
        long offset = lines.Take(2).Sum(l => System.Text.Encoding.UTF8.GetByteCount(l) + 1);
        // What a crash after two acknowledged records leaves: one stored point (a stand-in for their chunks) and a
        // checkpoint at record 2 that is not complete.
        await SeedAsync(new IngestCheckpoint(Shard.For(corpus).Key, 2, offset, false, 2, 2, 0, 0));

        using var factory = Factory(corpus);
        var health = await factory.CreateClient().GetFromJsonAsync<JsonElement>("/health");
        // the seeded point + one chunk for each of the three records after the checkpoint
        Points(health).ShouldBe(1 + Documents.Length - 2);
    }

    [Fact]
    public async Task A_store_filled_otherwise_is_served_as_it_is()
    {
        string corpus = WriteCorpus();
        await SeedAsync(checkpoint: null);
        using var factory = Factory(corpus);
        var health = await factory.CreateClient().GetFromJsonAsync<JsonElement>("/health");
        Points(health).ShouldBe(1);
    }

    private static long Points(JsonElement health) =>
        health.GetProperty("checks").GetProperty("store").GetProperty("data").GetProperty("points").GetInt64();

    private string WriteCorpus()
    {
        string corpus = Path.Combine(_folder, "corpus.jsonl");
        File.WriteAllLines(corpus, Documents.Select((d, i) => JsonSerializer.Serialize(new { text = d, url = $"https://example.org/{i}" })));
        return corpus;
    }

    private async Task SeedAsync(IngestCheckpoint? checkpoint)
    {
        var options = new VectorStoreOptions { Path = Path.Combine(_folder, "store") };
        await using var store = new EmbeddedVectorStore(options.Path);
        await store.EnsureCollectionAsync(options.ToSpec(32));
        var chunk = new Chunk(ChunkId.From("https://example.org/other", 0), "https://example.org/other", "https://example.org/other", 0,
            "another text", [1, 2, 3], "", [], new Dictionary<string, string>());
        var vector = new float[32];
        vector[0] = 1;
        await store.UpsertAsync([new VectorPoint(chunk, vector)]);
        if (checkpoint is not null) await store.SetAsync(checkpoint);
        await store.FlushAsync();
    }

    private WebApplicationFactory<Program> Factory(string corpus) =>
        new WebApplicationFactory<Program>().WithWebHostBuilder(b => Repo.UseFixtureStack(b, Path.Combine(_folder, "store"), corpus));
}
