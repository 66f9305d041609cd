using Microsoft.Extensions.Options;
using Retro.Api.Infrastructure;
using Retro.Core;
using Retro.VectorStore.Qdrant;

namespace Retro.Api.Hosting;

/// <summary>Creates the vector store <c>Retro:VectorStore:Provider</c> names.</summary>
internal static class VectorStores
{
    public static IVectorStore Create(IServiceProvider services)
    {
        var options = services.GetRequiredService<IOptions<VectorStoreOptions>>().Value;
        var loggers = services.GetRequiredService<ILoggerFactory>();
        switch (options.Provider)
        {
            case VectorStoreProvider.Qdrant:
                var qdrant = services.GetRequiredService<IConfiguration>().GetSection(QdrantOptions.Section).Get<QdrantOptions>() ?? new QdrantOptions();
                return QdrantVectorStore.Create(options, qdrant, loggers);
            case VectorStoreProvider.Embedded:
                string path = services.GetRequiredService<RepositoryPaths>().Resolve(options.Path);
                return EmbeddedStores.Open(path, loggers);
            default:
                throw new InvalidOperationException($"{VectorStoreOptions.Section}:Provider '{options.Provider}' is not supported; use Embedded or Qdrant.");
        }
    }
}
