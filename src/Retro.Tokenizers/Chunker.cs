using System.Collections.ObjectModel;
using System.Security.Cryptography;
using System.Text;
using Retro.Core;
using Retro.Core.Options;

namespace Retro.Tokenizers;

/// <summary>
/// Splits a document into RETRO chunks: <see cref="ChunkingOptions.ChunkTokens"/> tokens each (the last one may be
/// shorter and is kept), each with its continuation (the next <see cref="ChunkingOptions.ContinuationTokens"/> tokens
/// of the same document, shorter or empty at the end). Texts are slices of the source text taken from token offsets:
/// chunk u spans from the start of its first token to the start of the next chunk's first token (the end of its last
/// token for the last chunk), so consecutive chunk texts tile the document from its first token to its last.
/// Thread-safe.
/// </summary>
public sealed class Chunker
{
    private readonly ITokenizer _tokenizer;
    private readonly int _chunkTokens;
    private readonly int _continuationTokens;

    /// <summary>Creates a chunker over <paramref name="tokenizer"/> (the decoder's tokenizer) with RETRO's sizes.</summary>
    public Chunker(ITokenizer tokenizer, ChunkingOptions options)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.ChunkTokens, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfNegative(options.ContinuationTokens, nameof(options));
        _tokenizer = tokenizer;
        _chunkTokens = options.ChunkTokens;
        _continuationTokens = options.ContinuationTokens;
    }

    /// <summary>
    /// Tokenizes <paramref name="text"/> and chunks it; an empty text gives no chunks. Every chunk carries
    /// <paramref name="title"/> (null: none).
    /// </summary>
    public IReadOnlyList<Chunk> Split(string documentId, string url, string text, IReadOnlyDictionary<string, string>? metadata = null, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Split(documentId, url, text, _tokenizer.EncodeWithOffsets(text), metadata, title);
    }

    /// <summary>
    /// Chunks already tokenized text: <paramref name="tokens"/> are the ids of <paramref name="text"/> with their
    /// offsets, in order (as <see cref="ITokenizer.EncodeWithOffsets"/> returns them).
    /// </summary>
    /// <exception cref="ArgumentException">An offset lies outside <paramref name="text"/>.</exception>
    public IReadOnlyList<Chunk> Split(string documentId, string url, string text, IReadOnlyList<(int Id, Range Offsets)> tokens,
        IReadOnlyDictionary<string, string>? metadata = null, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(documentId);
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(tokens);
        url ??= "";
        int n = tokens.Count;
        if (n == 0) return [];
        var meta = new ReadOnlyDictionary<string, string>(new Dictionary<string, string>(metadata ?? new Dictionary<string, string>(), StringComparer.Ordinal));

        // boundary[k]: where token k's text starts (k < n) or the last token's text ends (k = n); non-decreasing.
        var boundary = new int[n + 1];
        int previous = 0;
        for (int k = 0; k <= n; k++)
        {
            var range = tokens[Math.Min(k, n - 1)].Offsets;
            var (start, length) = range.GetOffsetAndLength(text.Length);
            int at = k < n ? start : start + length;
            if (at < 0 || at > text.Length) throw new ArgumentException($"Token {k} has offsets outside the text.", nameof(tokens));
            previous = boundary[k] = Math.Max(previous, at);
        }

        var ids = new int[n];
        for (int k = 0; k < n; k++) ids[k] = tokens[k].Id;
        int count = (n + _chunkTokens - 1) / _chunkTokens;
        var chunks = new Chunk[count];
        for (int u = 0; u < count; u++)
        {
            int start = u * _chunkTokens, end = Math.Min(start + _chunkTokens, n);
            int contEnd = Math.Min(end + _continuationTokens, n);
            chunks[u] = new Chunk(
                ChunkId.From(documentId, u), documentId, url, u,
                text[boundary[start]..boundary[end]], ids[start..end],
                text[boundary[end]..boundary[contEnd]], ids[end..contEnd],
                meta) { Title = title ?? "" };
        }
        return chunks;
    }

    /// <summary>A document's identity: its url when not empty, else "sha256:" + the hex SHA-256 of its UTF-8 text.</summary>
    public static string DocumentIdFor(string? url, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!string.IsNullOrEmpty(url)) return url;
        return "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }
}
