using Retro.Core;
using Retro.VectorStore.Qdrant.StandIn;
using Retro.VectorStore.Qdrant.Tests.Support;
using Retro.VectorStore.Tests.Contract;

namespace Retro.VectorStore.Qdrant.Tests.Contract;

/// <summary>
/// The shared store contract run against <see cref="QdrantVectorStore"/> over gRPC to the in-process
/// <see cref="QdrantStandIn"/> (a test double generated from Qdrant's protocol files: it proves the official client is
/// driven right and our mapping holds, not Qdrant's own behaviour). With an api-key, so every call must carry it.
/// </summary>
public sealed class StandInContractTests : VectorStoreContractTests, IDisposable
{
    private readonly Lazy<Task<QdrantStandIn>> _standIn = new(() => QdrantStandIn.StartAsync(apiKey: "contract-key"));

    protected override async Task<IVectorStore> CreateStoreAsync(CollectionSpec spec)
        => await TestSupport.StoreAsync(await _standIn.Value, spec with { Name = "contract_" + spec.Metric.ToString().ToLowerInvariant() });

    protected override async Task<IVectorStore?> ReopenStoreAsync(IVectorStore store, CollectionSpec spec)
    {
        string name = store.Collection.Name;
        await store.DisposeAsync();
        var options = TestSupport.FastRetries();
        var reopened = new QdrantVectorStore(TestSupport.Connect(await _standIn.Value, options), options, ownsConnection: true);
        return await TestSupport.EnsureOrDisposeAsync(reopened, spec with { Name = name });
    }

    public void Dispose()
    {
        if (!_standIn.IsValueCreated) return;
        var standIn = _standIn.Value.GetAwaiter().GetResult();
        standIn.Calls.ShouldAllBe(c => c.ApiKey == "contract-key" || c.Method == "/qdrant.Qdrant/HealthCheck", "every call carries the api-key");
        standIn.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
