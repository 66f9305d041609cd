using Retro.Core;
using Retro.Core.Options;
using Retro.Tokenizers;

namespace Retro.Ingestion.Chunking;

/// <summary>
/// The chunking stage: cuts a document into RETRO chunks counted in the decoder's tokens with the shared
/// <see cref="Chunker"/> (chunk u = tokens [u·m, (u+1)·m) plus the next <see cref="ChunkingOptions.ContinuationTokens"/>
/// tokens as its continuation; texts are the source spans of their tokens), gives every chunk the document's title
/// (<see cref="DocumentTitles"/>) and keeps only the chunks that are worth a retrieval key
/// (<see cref="ChunkingOptions.MinKeyWords"/>). Thread-safe.
/// </summary>
public sealed class DocumentChunker
{
    private readonly Chunker _chunker;
    private readonly ChunkingOptions _options;

    /// <summary>Creates a chunker over the decoder tokenizer <paramref name="tokenizer"/>.</summary>
    public DocumentChunker(ITokenizer tokenizer, ChunkingOptions options)
    {
        _chunker = new Chunker(tokenizer ?? throw new ArgumentNullException(nameof(tokenizer)), options ?? throw new ArgumentNullException(nameof(options)));
        _options = options;
    }

    /// <summary>
    /// The retrieval keys of one document: its chunks (ordinals 0.., ids <see cref="ChunkId.From"/>(<paramref name="documentId"/>,
    /// ordinal)) without those below <see cref="ChunkingOptions.MinKeyWords"/> words, whose ordinals are returned in
    /// <paramref name="skipped"/> (ascending). Ordinals and continuations are those of the whole token stream. Empty when
    /// the text has no tokens.
    /// </summary>
    public IReadOnlyList<Chunk> Chunk(string documentId, string? url, string text, IReadOnlyDictionary<string, string> metadata, out int[] skipped)
    {
        ArgumentNullException.ThrowIfNull(documentId);
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(metadata);
        var all = _chunker.Split(documentId, url ?? "", text, metadata, DocumentTitles.Of(text, metadata, _options));
        skipped = [];
        if (_options.MinKeyWords <= 0) return all;
        List<Chunk>? keys = null;
        List<int>? junk = null;
        for (int i = 0; i < all.Count; i++)
        {
            bool key = DocumentTitles.CountWords(all[i].Text, _options.MinKeyWords) >= _options.MinKeyWords;
            if (key) { keys?.Add(all[i]); continue; }
            (junk ??= []).Add(i);
            keys ??= [.. all.Take(i)];
        }
        if (junk is not null) skipped = [.. junk];
        return keys ?? all;
    }

    /// <summary>The retrieval keys of one document (see the overload that reports the skipped chunks).</summary>
    public IReadOnlyList<Chunk> Chunk(string documentId, string? url, string text, IReadOnlyDictionary<string, string> metadata)
        => Chunk(documentId, url, text, metadata, out _);
}
