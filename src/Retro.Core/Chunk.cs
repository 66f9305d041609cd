namespace Retro.Core;

/// <summary>
/// One stored RETRO neighbour: a chunk of <see cref="Options.ChunkingOptions.ChunkTokens"/> tokens of a document plus its
/// continuation (the next tokens of the same document, shorter at the document's end). Token ids are those of the
/// decoder's tokenizer.
/// </summary>
/// <param name="Id">Deterministic id, <see cref="ChunkId.From"/>(<paramref name="DocumentId"/>, <paramref name="Ordinal"/>).</param>
/// <param name="DocumentId">Identity of the source document (its url, else a content hash).</param>
/// <param name="Url">Source url, empty when the record had none.</param>
/// <param name="Ordinal">0-based index of the chunk in its document.</param>
/// <param name="Text">Text of the chunk.</param>
/// <param name="Tokens">Token ids of the chunk (at most the chunk size; fewer only for a document's last chunk).</param>
/// <param name="ContinuationText">Text of the continuation; empty at a document's end.</param>
/// <param name="ContinuationTokens">Token ids of the continuation.</param>
/// <param name="Metadata">Other fields of the source record (timestamp, source, ...), as strings.</param>
public sealed record Chunk(
    ChunkId Id,
    string DocumentId,
    string Url,
    int Ordinal,
    string Text,
    int[] Tokens,
    string ContinuationText,
    int[] ContinuationTokens,
    IReadOnlyDictionary<string, string> Metadata)
{
    /// <summary>
    /// Title of the source document (a dictionary entry's headword, a page title, the first heading); empty when it has
    /// none. Every chunk of a document carries it: it is indexed (BM25's title field, <see cref="Text.Bm25Options.TitleWeight"/>)
    /// and embedded with the chunk (<see cref="RetrievalText()"/>), so a chunk from the middle of an entry still matches it.
    /// </summary>
    public string Title { get; init; } = "";

    /// <summary>What the bi-encoder embeds for this chunk: <paramref name="title"/> and <paramref name="text"/> on two lines, or the text alone.</summary>
    public static string RetrievalText(string title, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return string.IsNullOrEmpty(title) ? text : string.Concat(title, "\n", text);
    }

    /// <summary>This chunk's <see cref="RetrievalText(string, string)"/>.</summary>
    public string RetrievalText() => RetrievalText(Title, Text);

    /// <summary>The neighbour's tokens as RETRO's encoder reads them: the chunk followed by its continuation.</summary>
    public int[] NeighbourTokens()
    {
        var all = new int[Tokens.Length + ContinuationTokens.Length];
        Tokens.CopyTo(all, 0);
        ContinuationTokens.CopyTo(all, Tokens.Length);
        return all;
    }
}
