using Retro.Core;
using Retro.VectorStore.Qdrant.Tests.Emulator;
using Retro.VectorStore.Qdrant.Tests.Support;
using Retro.VectorStore.Tests.Contract;

namespace Retro.VectorStore.Qdrant.Tests.Contract;

/// <summary>
/// The shared store contract run against <see cref="QdrantVectorStore"/> over the in-process, spec-checking
/// <see cref="QdrantEmulator"/> (a test double: it proves our requests match Qdrant's OpenAPI document and our client
/// logic is right, not Qdrant's own behaviour). Every request of every test must satisfy the spec.
/// </summary>
public sealed class EmulatedQdrantContractTests : VectorStoreContractTests, IDisposable
{
    private readonly QdrantEmulator _emulator = new() { ApiKey = "contract-key" };

    protected override async Task<IVectorStore> CreateStoreAsync(CollectionSpec spec)
        => await TestSupport.StoreAsync(_emulator, spec with { Name = "contract_" + spec.Metric.ToString().ToLowerInvariant() }, apiKey: "contract-key");

    protected override async Task<IVectorStore?> ReopenStoreAsync(IVectorStore store, CollectionSpec spec)
    {
        string name = store.Collection.Name;
        await store.DisposeAsync();
        var options = TestSupport.FastRetries();
        var reopened = new QdrantVectorStore(TestSupport.Client(_emulator, options, apiKey: "contract-key"), options, ownsClient: true);
        try
        {
            await reopened.EnsureCollectionAsync(spec with { Name = name });
        }
        catch
        {
            await reopened.DisposeAsync();
            throw;
        }
        return reopened;
    }

    public void Dispose()
    {
        _emulator.SpecViolations.ShouldBeEmpty("every request must satisfy Qdrant's OpenAPI document");
        _emulator.Dispose();
    }
}
