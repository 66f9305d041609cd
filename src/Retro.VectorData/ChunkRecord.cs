using Microsoft.Extensions.VectorData;

namespace Retro.VectorData;

/// <summary>A stored chunk as Semantic Kernel and Microsoft.Extensions.AI applications see it: its text, continuation (the RETRO neighbour's second half), source and embedding.</summary>
public sealed class ChunkRecord
{
    /// <summary>The chunk id (a UUID from document id and ordinal; <see cref="Guid.Empty"/> on upsert: derived from them).</summary>
    [VectorStoreKey]
    public Guid Id { get; set; }

    /// <summary>The document the chunk belongs to.</summary>
    [VectorStoreData(IsIndexed = true)]
    public string DocumentId { get; set; } = "";

    /// <summary>Position of the chunk in its document (0-based).</summary>
    [VectorStoreData]
    public int Ordinal { get; set; }

    /// <summary>Source address.</summary>
    [VectorStoreData]
    public string Url { get; set; } = "";

    /// <summary>Document title (may be empty).</summary>
    [VectorStoreData]
    public string Title { get; set; } = "";

    /// <summary>The chunk's text (64 decoder tokens in the indexer's chunks).</summary>
    [VectorStoreData(IsFullTextIndexed = true)]
    public string Text { get; set; } = "";

    /// <summary>The next chunk's text of the same document (empty at the end).</summary>
    [VectorStoreData]
    public string Continuation { get; set; } = "";

    /// <summary>The bi-encoder embedding of title + text; null on upsert: computed by the collection's encoder. Not returned by reads (the stores' seams serve chunks, not vectors).</summary>
    public ReadOnlyMemory<float>? Embedding { get; set; }
}
