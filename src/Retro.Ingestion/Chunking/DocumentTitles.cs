using System.Globalization;
using System.Text;
using Retro.Core;
using Retro.Core.Options;

namespace Retro.Ingestion.Chunking;

/// <summary>
/// A document's title (<see cref="Chunk.Title"/>): the record's <see cref="ChunkingOptions.TitleField"/>, else its first line
/// when that reads as a title (<see cref="ChunkingOptions.TitleFromFirstLine"/>), else none; and the word counts that decide
/// which chunks are retrieval keys.
/// </summary>
public static class DocumentTitles
{
    /// <summary>Longest title kept, in chars (longer ones are cut at a word boundary).</summary>
    public const int MaxTitleChars = 200;

    /// <summary>The title of a document with <paramref name="text"/> and record fields <paramref name="metadata"/>, or null.</summary>
    public static string? Of(string text, IReadOnlyDictionary<string, string> metadata, ChunkingOptions options)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(metadata);
        ArgumentNullException.ThrowIfNull(options);
        if (!string.IsNullOrEmpty(options.TitleField) && metadata.TryGetValue(options.TitleField, out var field))
        {
            string t = Clean(field);
            if (t.Length > 0) return t;
        }
        return options.TitleFromFirstLine ? FirstLine(text, options.MaxTitleWords) : null;
    }

    /// <summary>
    /// The first line of <paramref name="text"/> when it reads as a title: at most <paramref name="maxWords"/> words, at least
    /// one letter or digit, no terminal period, and more text follows; else null.
    /// </summary>
    public static string? FirstLine(string text, int maxWords)
    {
        ArgumentNullException.ThrowIfNull(text);
        var span = text.AsSpan().TrimStart();
        int nl = span.IndexOf('\n');
        if (nl < 0) return null;
        var head = span[..nl].Trim();
        if (head.IsEmpty || head[^1] == '.' || span[(nl + 1)..].IsWhiteSpace()) return null;
        int words = 0, letters = 0;
        bool inWord = false;
        foreach (char c in head)
        {
            bool w = !char.IsWhiteSpace(c);
            if (w && !inWord) words++;
            inWord = w;
            if (char.IsLetterOrDigit(c)) letters++;
        }
        if (words > maxWords || letters == 0) return null;
        return Clean(head.ToString());
    }

    /// <summary>
    /// Words of <paramref name="text"/> (runs of letters, digits and marks with at least one letter), counting up to
    /// <paramref name="enough"/> (then it stops).
    /// </summary>
    public static int CountWords(string text, int enough)
    {
        ArgumentNullException.ThrowIfNull(text);
        int words = 0;
        bool inRun = false, letter = false;
        foreach (var rune in text.EnumerateRunes())
        {
            var cat = Rune.GetUnicodeCategory(rune);
            bool word = Rune.IsLetterOrDigit(rune) || cat is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark;
            if (word)
            {
                inRun = true;
                letter |= Rune.IsLetter(rune);
                continue;
            }
            if (inRun && letter && ++words >= enough) return words;
            inRun = letter = false;
        }
        if (inRun && letter) words++;
        return words;
    }

    private static string Clean(string title)
    {
        var sb = new StringBuilder(Math.Min(title.Length, MaxTitleChars));
        bool space = false;
        foreach (char c in title)
        {
            if (char.IsWhiteSpace(c) || char.IsControl(c)) { space = sb.Length > 0; continue; }
            if (space) sb.Append(' ');
            space = false;
            sb.Append(c);
        }
        if (sb.Length <= MaxTitleChars) return sb.ToString();
        string cut = sb.ToString(0, MaxTitleChars);
        int lastSpace = cut.LastIndexOf(' ');
        return lastSpace > MaxTitleChars / 2 ? cut[..lastSpace] : cut;
    }
}
