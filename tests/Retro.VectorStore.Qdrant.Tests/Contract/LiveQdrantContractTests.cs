using System.Collections.Concurrent;
using Retro.Core;
using Retro.VectorStore.Qdrant.Tests.Support;
using Retro.VectorStore.Tests.Contract;

namespace Retro.VectorStore.Qdrant.Tests.Contract;

/// <summary>
/// The shared store contract against a real Qdrant (<see cref="LiveQdrantFixture"/>: Testcontainers, else
/// <c>QDRANT_URL</c>); every test reports itself skipped, with the reason, when there is none. Each test uses its own
/// collection and deletes it afterwards.
/// </summary>
[Collection(LiveQdrantCollection.Name)]
public sealed class LiveQdrantContractTests(LiveQdrantFixture live) : VectorStoreContractTests, IDisposable
{
    private readonly ConcurrentBag<string> _collections = [];

    protected override string? SkipReason => live.SkipReason;

    protected override async Task<IVectorStore> CreateStoreAsync(CollectionSpec spec)
    {
        string name = LiveQdrantFixture.UniqueCollection("retro_contract");
        _collections.Add(name);
        var store = QdrantVectorStore.Create(live.Store(), live.Options());
        await store.EnsureCollectionAsync(spec with { Name = name });
        return store;
    }

    protected override async Task<IVectorStore?> ReopenStoreAsync(IVectorStore store, CollectionSpec spec)
    {
        string name = store.Collection.Name;
        await store.DisposeAsync();
        var reopened = QdrantVectorStore.Create(live.Store(), live.Options());
        return await TestSupport.EnsureOrDisposeAsync(reopened, spec with { Name = name });
    }

    public void Dispose() => LiveCleanup.DeleteCollections(live, _collections);
}

/// <summary>Deletes the collections (and their checkpoint collections) a live test made.</summary>
internal static class LiveCleanup
{
    public static void DeleteCollections(LiveQdrantFixture live, IEnumerable<string> names)
    {
        if (live.SkipReason is not null || !names.Any()) return;
        using var connection = QdrantConnection.Open(live.Store(), live.Options());
        foreach (var name in names.SelectMany(n => new[] { n, n + "__checkpoints" }))
        {
            // The official client throws when Qdrant answers "not deleted" (no such collection).
            if (connection.Client.CollectionExistsAsync(name).GetAwaiter().GetResult()) connection.Client.DeleteCollectionAsync(name).GetAwaiter().GetResult();
        }
    }
}
