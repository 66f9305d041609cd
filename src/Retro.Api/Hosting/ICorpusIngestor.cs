using Retro.Core;

namespace Retro.Api.Hosting;

/// <summary>Ingests a C4-style corpus file into a vector store (the indexer's pipeline, used as a library).</summary>
public interface ICorpusIngestor
{
    /// <summary>
    /// Reads <paramref name="corpusPath"/>, chunks, embeds with <paramref name="encoder"/> and upserts into
    /// <paramref name="store"/> (whose collection exists). Reports progress through <paramref name="progress"/>
    /// (documents, chunks so far). Returns the number of chunks stored.
    /// </summary>
    Task<long> IngestAsync(string corpusPath, ITextEncoder encoder, IVectorStore store, IProgress<(long Documents, long Chunks)> progress, CancellationToken cancellationToken);
}
