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

    /// <summary>
    /// True when an ingestion of <paramref name="corpusPath"/> into <paramref name="store"/> began and did not finish
    /// (a shard has a checkpoint that is not complete): the next start resumes it rather than serving a partial corpus.
    /// </summary>
    Task<bool> IsUnfinishedAsync(string corpusPath, IVectorStore store, CancellationToken cancellationToken);
}
