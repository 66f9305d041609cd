using Retro.Core;

namespace Retro.Api.Hosting;

/// <summary>Opens the embedded vector store (managed HNSW plus chunk store) in a folder.</summary>
internal static class EmbeddedStores
{
    public static IVectorStore Open(string path, VectorStoreOptions options, ILoggerFactory loggers)
        => throw new NotSupportedException($"The embedded vector store at {path} needs Retro.VectorStore's EmbeddedVectorStore (not in this build yet).");
}
