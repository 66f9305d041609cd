using Microsoft.Extensions.Logging;
using Retro.Core;
using Retro.Core.Options;
using Retro.VectorStore;
using Retro.VectorStore.Qdrant;

namespace Retro.Hosting;

/// <summary>
/// The one place where <c>Retro:VectorStore:Provider</c> becomes a store, for the service, the indexer and the
/// comparison runs alike: the embedded store (managed HNSW plus SQLite chunk store) in <see cref="VectorStoreOptions.Path"/>,
/// or Qdrant at <see cref="VectorStoreOptions.QdrantUrl"/> with the gRPC port, TLS pinning, batching and resilience of
/// its own section (<see cref="QdrantOptions"/>, <c>Retro:VectorStore:Qdrant</c>).
/// </summary>
public static class VectorStores
{
    /// <summary>
    /// Opens the store <paramref name="store"/> names, without creating its collection (<see cref="IVectorStore.EnsureCollectionAsync"/>
    /// does). A relative embedded path is relative to the current folder: resolve it first where another base applies.
    /// <paramref name="embedded"/> tunes the embedded store (default <see cref="EmbeddedStoreOptions"/>).
    /// </summary>
    /// <exception cref="ArgumentException">Invalid Qdrant options (the url, a port out of range, a thumbprint without TLS).</exception>
    public static IVectorStore Open(VectorStoreOptions store, QdrantOptions qdrant, EmbeddedStoreOptions? embedded = null, ILoggerFactory? loggers = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(qdrant);
        return store.Provider switch
        {
            VectorStoreProvider.Qdrant => QdrantVectorStore.Create(store, qdrant, loggers),
            VectorStoreProvider.Embedded => new EmbeddedVectorStore(store.Path, embedded, loggers?.CreateLogger<EmbeddedVectorStore>()),
            _ => throw new InvalidOperationException($"{VectorStoreOptions.Section}:Provider '{store.Provider}' is not supported; use Embedded or Qdrant."),
        };
    }
}
