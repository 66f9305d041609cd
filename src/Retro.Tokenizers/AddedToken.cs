namespace Retro.Tokenizers;

/// <summary>
/// A token matched in raw text before normalization and never split (Hugging Face <c>added_tokens</c>).
/// <see cref="Special"/> tokens are skipped by decoding when asked.
/// </summary>
/// <param name="Id">Its id.</param>
/// <param name="Content">The exact text it matches.</param>
/// <param name="Special">Whether it is a control token (e.g. [CLS], &lt;|endoftext|&gt;).</param>
/// <param name="SingleWord">Match only when not inside a word.</param>
/// <param name="LStrip">Also consume the whitespace on its left.</param>
/// <param name="RStrip">Also consume the whitespace on its right.</param>
/// <param name="Normalized">Hugging Face's flag, kept for writing; matching is always on the raw text here.</param>
public sealed record AddedToken(int Id, string Content, bool Special = true, bool SingleWord = false, bool LStrip = false,
    bool RStrip = false, bool Normalized = false);
