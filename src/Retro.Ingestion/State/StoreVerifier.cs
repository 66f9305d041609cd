using Retro.Core;
using Retro.Core.Options;

namespace Retro.Ingestion.State;

/// <summary>Outcome of <see cref="StoreVerifier.VerifyAsync"/>.</summary>
/// <param name="Documents">Documents checked.</param>
/// <param name="Chunks">Chunks checked.</param>
/// <param name="Problems">Number of problems found.</param>
/// <param name="Examples">The first problems, as messages (at most <see cref="StoreVerifier.MaxExamples"/>).</param>
public sealed record VerifyReport(long Documents, long Chunks, long Problems, IReadOnlyList<string> Examples);

/// <summary>
/// Checks a store against the indexer's state: every recorded chunk's payload is readable and consistent (id,
/// document, ordinal, non-empty text and tokens within the chunk sizes), the store holds as many points as recorded,
/// and, given an encoder, every chunk's vector is found by a search with its own re-embedded text (restricted to its
/// document) with cosine ≥ <see cref="MinSelfScore"/>.
/// </summary>
public static class StoreVerifier
{
    /// <summary>Most problem messages kept in a report.</summary>
    public const int MaxExamples = 50;

    /// <summary>Lowest acceptable similarity of a chunk to its own re-embedded text (the encoder is deterministic; the
    /// slack covers int8 quantization and float summation order).</summary>
    public const float MinSelfScore = 0.98f;

    /// <summary>Runs every check; <paramref name="encoder"/> null skips the vector checks.</summary>
    public static async Task<VerifyReport> VerifyAsync(IndexerState state, IVectorStore store, ITextEncoder? encoder, ChunkingOptions chunking, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(chunking);
        var examples = new List<string>();
        long problems = 0, documents = 0, chunks = 0;
        void Problem(string message)
        {
            problems++;
            if (examples.Count < MaxExamples) examples.Add(message);
        }

        await foreach (var (document, stored) in StoredChunks.ReadAsync(state, store, cancellationToken).ConfigureAwait(false))
        {
            documents++;
            int index = 0;
            foreach (int ordinal in document.StoredOrdinals())
            {
                chunks++;
                var id = ChunkId.From(document.DocumentId, ordinal);
                if (stored[index++] is not { } chunk) { Problem($"{id} ({document.DocumentId} #{ordinal}): no payload"); continue; }
                bool last = ordinal == document.Ordinals - 1;
                string? bad =
                    chunk.Id != id ? $"id {chunk.Id}" :
                    chunk.DocumentId != document.DocumentId ? $"document '{chunk.DocumentId}'" :
                    chunk.Ordinal != ordinal ? $"ordinal {chunk.Ordinal}" :
                    chunk.Tokens.Length == 0 || chunk.Tokens.Length > chunking.ChunkTokens ? $"{chunk.Tokens.Length} tokens" :
                    !last && chunk.Tokens.Length != chunking.ChunkTokens ? $"{chunk.Tokens.Length} tokens in a chunk that is not the last" :
                    chunk.ContinuationTokens.Length > chunking.ContinuationTokens ? $"{chunk.ContinuationTokens.Length} continuation tokens" :
                    string.IsNullOrEmpty(chunk.Text) ? "empty text" : null;
                if (bad is not null) Problem($"{id} ({document.DocumentId} #{ordinal}): payload has {bad}");
            }
            if (encoder is not null) await CheckVectorsAsync(document, stored, store, encoder, Problem, cancellationToken).ConfigureAwait(false);
        }

        long points = await store.CountAsync(cancellationToken).ConfigureAwait(false);
        if (points != state.CountChunks()) Problem($"the store holds {points} points, the indexer recorded {state.CountChunks()} chunks");
        return new VerifyReport(documents, chunks, problems, examples);
    }

    private static async Task CheckVectorsAsync(DocumentRow document, IReadOnlyList<Chunk?> stored, IVectorStore store, ITextEncoder encoder, Action<string> problem, CancellationToken ct)
    {
        var present = stored.Where(c => c is not null).Select(c => c!).ToList();
        if (present.Count == 0) return;
        int dim = encoder.Dimension;
        var vectors = new float[present.Count * dim];
        encoder.Encode(present.Select(c => c.RetrievalText()).ToArray(), vectors);
        var filter = new SearchOptions { Limit = Math.Min(present.Count, 10_000), OnlyDocuments = [document.DocumentId] };
        var hits = new SearchHit[filter.Limit];
        for (int i = 0; i < present.Count; i++)
        {
            int found = await store.SearchAsync(vectors.AsMemory(i * dim, dim), filter, hits, ct).ConfigureAwait(false);
            float? score = null;
            for (int h = 0; h < found; h++)
            {
                if (hits[h].Id == present[i].Id) { score = hits[h].Score; break; }
            }
            // An identical chunk text elsewhere in the document scores the same: accept it as this vector's witness.
            if (score is null)
            {
                for (int h = 0; h < found; h++)
                {
                    int other = present.FindIndex(c => c.Id == hits[h].Id);
                    if (other >= 0 && present[other].Text == present[i].Text) { score = hits[h].Score; break; }
                }
            }
            if (score is null) problem($"{present[i].Id} ({document.DocumentId} #{present[i].Ordinal}): vector not found by its own text");
            else if (score < MinSelfScore) problem($"{present[i].Id} ({document.DocumentId} #{present[i].Ordinal}): vector scores {score:F3} against its own text");
        }
    }
}
