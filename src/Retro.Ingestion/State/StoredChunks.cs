using System.Runtime.CompilerServices;
using Retro.Core;

namespace Retro.Ingestion.State;

/// <summary>Enumerates what the store should hold according to the indexer's state: every recorded document's chunks.</summary>
public static class StoredChunks
{
    /// <summary>Ids of chunks fetched per store call.</summary>
    public const int FetchBatch = 256;

    /// <summary>
    /// For every recorded document (ordered by identity), its row and its stored chunks (<see cref="DocumentRow.StoredOrdinals"/>,
    /// in order) as the store returns them (null where the store has no such point).
    /// </summary>
    public static async IAsyncEnumerable<(DocumentRow Document, IReadOnlyList<Chunk?> Chunks)> ReadAsync(
        IndexerState state, IChunkStore store, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(store);
        foreach (var document in state.Documents())
        {
            var ordinals = document.StoredOrdinals().ToArray();
            var all = new List<Chunk?>(ordinals.Length);
            for (int start = 0; start < ordinals.Length; start += FetchBatch)
            {
                int n = Math.Min(FetchBatch, ordinals.Length - start);
                var ids = new ChunkId[n];
                for (int i = 0; i < n; i++) ids[i] = ChunkId.From(document.DocumentId, ordinals[start + i]);
                all.AddRange(await store.GetChunksAsync(ids, cancellationToken).ConfigureAwait(false));
            }
            yield return (document, all);
        }
    }
}
