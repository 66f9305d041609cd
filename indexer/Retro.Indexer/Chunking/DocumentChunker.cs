using Retro.Core;
using Retro.Tokenizers;

namespace Retro.Indexer.Chunking;

/// <summary>
/// The chunking stage: cuts a document into RETRO chunks counted in the decoder's tokens with the shared
/// <see cref="Chunker"/> (chunk u = tokens [u·m, (u+1)·m) plus the next <see cref="ChunkingOptions.ContinuationTokens"/>
/// tokens as its continuation; texts are the source spans of their tokens). Thread-safe.
/// </summary>
public sealed class DocumentChunker
{
    readonly Chunker _chunker;

    /// <summary>Creates a chunker over the decoder tokenizer <paramref name="tokenizer"/>.</summary>
    public DocumentChunker(ITokenizer tokenizer, ChunkingOptions options)
    {
        _chunker = new Chunker(tokenizer ?? throw new ArgumentNullException(nameof(tokenizer)), options ?? throw new ArgumentNullException(nameof(options)));
    }

    /// <summary>
    /// The chunks of one document, ordinals 0.., ids <see cref="ChunkId.From"/>(<paramref name="documentId"/>, ordinal).
    /// Empty when the text has no tokens.
    /// </summary>
    public IReadOnlyList<Chunk> Chunk(string documentId, string? url, string text, IReadOnlyDictionary<string, string> metadata)
    {
        ArgumentNullException.ThrowIfNull(documentId);
        ArgumentNullException.ThrowIfNull(text);
        return _chunker.Split(documentId, url ?? "", text, metadata);
    }
}
