using System.ComponentModel.DataAnnotations;

namespace Retro.Core.Options;

/// <summary>Section <c>Retro:Chunking</c>: RETRO's chunk size m and the stored continuation length.</summary>
public sealed record ChunkingOptions
{
    public const string Section = "Retro:Chunking";

    /// <summary>Tokens per chunk (RETRO's m = 64).</summary>
    [Range(1, 4096)]
    public int ChunkTokens { get; init; } = 64;

    /// <summary>Tokens of continuation stored with each chunk (r − m = 64).</summary>
    [Range(0, 4096)]
    public int ContinuationTokens { get; init; } = 64;

    /// <summary>
    /// Record field holding the document's title (a page title, a dictionary headword); empty: none. When a record lacks
    /// it, <see cref="TitleFromFirstLine"/> decides.
    /// </summary>
    public string TitleField { get; init; } = "title";

    /// <summary>
    /// Without a title field, take the document's first line as its title when it reads as one: at most
    /// <see cref="MaxTitleWords"/> words, no terminal period, and more text follows (a headword, a heading).
    /// </summary>
    public bool TitleFromFirstLine { get; init; } = true;

    /// <summary>Longest first line, in words, taken as a title.</summary>
    [Range(1, 64)]
    public int MaxTitleWords { get; init; } = 12;

    /// <summary>
    /// Chunks with fewer words than this (a word: a run of letters and digits with at least one letter) are not indexed as
    /// retrieval keys (a chunk that is only punctuation, a date stamp, a stray reference). They stay in the document's
    /// token stream, so the continuations of the chunks before them are unchanged. 0 indexes every chunk.
    /// </summary>
    [Range(0, 64)]
    public int MinKeyWords { get; init; } = 3;
}
