using Retro.Core;
using Retro.VectorStore;

namespace Retro.Api.Hosting;

/// <summary>Opens the embedded vector store (managed HNSW plus chunk store) in a folder; the collection is opened at start-up.</summary>
internal static class EmbeddedStores
{
    public static IVectorStore Open(string path, ILoggerFactory loggers)
        => new EmbeddedVectorStore(path, new EmbeddedStoreOptions(), loggers.CreateLogger<EmbeddedVectorStore>());
}
