using Retro.Core;

namespace Retro.Api.Hosting;

/// <summary><see cref="ICorpusIngestor"/> over the indexer's ingestion pipeline.</summary>
internal sealed class IndexerCorpusIngestor : ICorpusIngestor
{
    public Task<long> IngestAsync(string corpusPath, ITextEncoder encoder, IVectorStore store, IProgress<(long Documents, long Chunks)> progress, CancellationToken cancellationToken)
        => throw new NotSupportedException("Ingesting needs the indexer's pipeline entry point (not in this build yet).");
}
