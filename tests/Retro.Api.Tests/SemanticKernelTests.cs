using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.VectorData;
using Microsoft.SemanticKernel;
using Retro.Core;
using Retro.VectorData;

namespace Retro.Api.Tests;

/// <summary>
/// Semantic Kernel on top of the in-process service (fixture models, embedded store): a Kernel prompt function answered
/// by the service's <see cref="IChatClient"/> with the neighbours of each chunk as citations, and the store as a
/// Microsoft.Extensions.VectorData collection that searches and upserts chunks.
/// </summary>
public sealed class SemanticKernelTests : IClassFixture<RealStackTests.Factory>
{
    private readonly RealStackTests.Factory _factory;

    public SemanticKernelTests(RealStackTests.Factory factory) => _factory = factory;

    [Fact]
    public async Task A_kernel_prompt_function_answers_with_citations()
    {
        _factory.CreateClient().Dispose(); // start the service: models loaded, corpus ingested
        var builder = Kernel.CreateBuilder();
        builder.Services.AddSingleton(_factory.Services.GetRequiredService<IChatClient>());
        var kernel = builder.Build();
        var function = kernel.CreateFunctionFromPrompt("Where is the {{$landmark}}?",
            new PromptExecutionSettings { ExtensionData = new Dictionary<string, object> { ["max_tokens"] = 8, ["temperature"] = 0.0 } });

        var result = await kernel.InvokeAsync(function, new KernelArguments { ["landmark"] = "Eiffel Tower" });

        var response = result.GetValue<ChatResponse>().ShouldNotBeNull();
        response.Text.ShouldNotBeNullOrEmpty();
        response.Usage!.OutputTokenCount.ShouldNotBeNull().ShouldBeInRange(1, 8);
        var chunks = response.AdditionalProperties!["retro.chunks"].ShouldBeAssignableTo<IReadOnlyList<ChunkRetrievedEvent>>()!;
        chunks.Count.ShouldBeGreaterThan(0);
        chunks[0].Query.ShouldContain("Eiffel Tower");
        chunks[0].Neighbours.Count.ShouldBe(2);
        foreach (var n in chunks[0].Neighbours)
            RealStackTests.Factory.Documents.ShouldContain(d => d.Contains(n.Chunk.Text.Trim()), "a citation is a corpus chunk");
        result.ToString().ShouldBe(response.Text);
    }

    [Fact]
    public async Task The_store_is_a_vector_data_collection_that_searches_and_upserts()
    {
        _factory.CreateClient().Dispose();
        var collection = _factory.Services.GetRequiredService<VectorStoreCollection<Guid, ChunkRecord>>();
        (await collection.CollectionExistsAsync()).ShouldBeTrue();

        var hits = await collection.SearchAsync("highest mountain in the Himalayas", top: 3).ToListAsync();
        hits.Count.ShouldBe(3);
        hits.ShouldContain(h => h.Record.Text.Contains("Everest"));

        var record = new ChunkRecord { DocumentId = "sk-upsert", Url = "https://example.org/sk", Text = "The Amazon river flows through the rainforest of Brazil." };
        await collection.UpsertAsync(record);
        record.Id.ShouldBe(ChunkId.From("sk-upsert", 0).Value);
        var stored = (await collection.GetAsync(record.Id)).ShouldNotBeNull();
        stored.Text.ShouldBe(record.Text);
        stored.Url.ShouldBe(record.Url);
        var found = await collection.SearchAsync(record.Text, top: 1).ToListAsync();
        found[0].Record.Id.ShouldBe(record.Id, "a chunk is its own nearest neighbour");

        (await ((RetroChunkCollection)collection).DeleteDocumentAsync("sk-upsert")).ShouldBe(1);
        (await collection.GetAsync(record.Id)).ShouldBeNull();
        await Should.ThrowAsync<NotSupportedException>(() => collection.DeleteAsync(record.Id));
    }
}
