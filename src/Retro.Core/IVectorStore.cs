namespace Retro.Core;

/// <summary>A vector store: the search side plus writes. Implementations are thread-safe.</summary>
public interface IVectorStore : IVectorSearch, IChunkStore, IAsyncDisposable
{
    /// <summary>The collection this store reads and writes (set by <see cref="EnsureCollectionAsync"/>).</summary>
    CollectionSpec Collection { get; }

    /// <summary>
    /// Creates the collection, or opens it when it exists with the same dimension and metric; a conflicting
    /// existing collection fails with <see cref="InvalidOperationException"/>.
    /// </summary>
    ValueTask EnsureCollectionAsync(CollectionSpec spec, CancellationToken cancellationToken = default);

    /// <summary>
    /// Inserts or replaces points by id. When the task completes the batch is durable: it survives a crash of this
    /// process (and, for the embedded store, power loss). Upserting the same points again changes nothing.
    /// </summary>
    ValueTask UpsertAsync(IReadOnlyList<VectorPoint> points, CancellationToken cancellationToken = default);

    /// <summary>Deletes every point of a document; returns how many were deleted (-1 when the store cannot tell).</summary>
    ValueTask<long> DeleteDocumentAsync(string documentId, CancellationToken cancellationToken = default);

    /// <summary>Makes everything written so far durable and compacts what can be compacted cheaply.</summary>
    ValueTask FlushAsync(CancellationToken cancellationToken = default);

    /// <summary>Whether the store answers (for health checks). Never throws.</summary>
    ValueTask<bool> IsHealthyAsync(CancellationToken cancellationToken = default);
}
