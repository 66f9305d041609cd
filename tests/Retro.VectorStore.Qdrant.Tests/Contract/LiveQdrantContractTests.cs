using System.Collections.Concurrent;
using Retro.Core;
using Retro.VectorStore.Qdrant.Tests.Support;
using Retro.VectorStore.Tests.Contract;

namespace Retro.VectorStore.Qdrant.Tests.Contract;

/// <summary>
/// The shared store contract against a real Qdrant at <c>QDRANT_URL</c> (optional <c>QDRANT_API_KEY</c>); every
/// test is reported skipped when the variable is unset. Each test uses its own collection and deletes it afterwards.
/// </summary>
public sealed class LiveQdrantContractTests : VectorStoreContractTests, IDisposable
{
    private readonly ConcurrentBag<string> _collections = [];

    protected override string? SkipReason => LiveQdrant.Url is null ? LiveQdrant.SkipReason : null;

    protected override async Task<IVectorStore> CreateStoreAsync(CollectionSpec spec)
    {
        string name = LiveQdrant.UniqueCollection("retro_contract");
        _collections.Add(name);
        var store = QdrantVectorStore.Create(LiveQdrant.Options());
        await store.EnsureCollectionAsync(spec with { Name = name });
        return store;
    }

    protected override async Task<IVectorStore?> ReopenStoreAsync(IVectorStore store, CollectionSpec spec)
    {
        string name = store.Collection.Name;
        await store.DisposeAsync();
        var reopened = QdrantVectorStore.Create(LiveQdrant.Options());
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
        if (_collections.IsEmpty) return;
        using var cleanup = QdrantVectorStore.Create(LiveQdrant.Options()).Client;
        foreach (var name in _collections)
        {
            cleanup.DeleteCollectionAsync(name).GetAwaiter().GetResult();
            cleanup.DeleteCollectionAsync(name + "__checkpoints").GetAwaiter().GetResult();
        }
    }
}
