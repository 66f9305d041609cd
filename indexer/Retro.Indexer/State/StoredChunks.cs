using System.Runtime.CompilerServices;
using Retro.Core;

namespace Retro.Indexer.State;

/// <summary>Enumerates what the store should hold according to the indexer's state: every recorded document's chunks.</summary>
public static class StoredChunks
{
    /// <summary>Ids of chunks fetched per store call.</summary>
    public const int FetchBatch = 256;

    /// <summary>
    /// For every recorded document (ordered by identity), its row and the stored chunks of ordinals 0..Chunks-1 as the
    /// store returns them (null where the store has no such point).
    /// </summary>
    public static async IAsyncEnumerable<(DocumentRow Document, IReadOnlyList<Chunk?> Chunks)> ReadAsync(
        IndexerState state, IChunkStore store, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(store);
        foreach (var document in state.Documents())
        {
            var all = new List<Chunk?>(document.Chunks);
            for (int start = 0; start < document.Chunks; start += FetchBatch)
            {
                int n = Math.Min(FetchBatch, document.Chunks - start);
                var ids = new ChunkId[n];
                for (int i = 0; i < n; i++) ids[i] = ChunkId.From(document.DocumentId, start + i);
                all.AddRange(await store.GetChunksAsync(ids, cancellationToken).ConfigureAwait(false));
            }
            yield return (document, all);
        }
    }
}
