using System.Globalization;
using System.Text;

namespace Retro.Core.Text;

/// <summary>
/// Turns text into BM25 terms: Unicode word splitting (runs of letters, digits and combining marks; CJK ideographs and
/// kana one per term), invariant case folding, optional English stop words and plural stemming
/// (<see cref="Bm25Options"/>). Terms longer than <see cref="MaxTermLength"/> chars are dropped. A term's id is the
/// FNV-1a 32-bit hash of its UTF-8 bytes (<see cref="TermId"/>), the same in every store (Qdrant's sparse indices).
/// Immutable and thread-safe; allocation-free per term.
/// </summary>
public sealed class TextAnalyzer
{
    /// <summary>Longest term kept, in UTF-16 chars.</summary>
    public const int MaxTermLength = 64;

    /// <summary>Lucene's English stop words (<c>EnglishAnalyzer.ENGLISH_STOP_WORDS_SET</c>).</summary>
    public static readonly IReadOnlyList<string> EnglishStopWords =
    [
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no", "not", "of",
        "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was", "will", "with",
    ];

    private static readonly HashSet<string> StopSet = new(EnglishStopWords, StringComparer.Ordinal);
    private static readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> StopLookup = StopSet.GetAlternateLookup<ReadOnlySpan<char>>();

    private readonly bool _stopWords;
    private readonly bool _stemming;

    /// <summary>An analyzer with <paramref name="options"/>' stop-word and stemming choices (default: neither).</summary>
    public TextAnalyzer(Bm25Options? options = null)
    {
        Options = options ?? new Bm25Options();
        _stopWords = Options.StopWords;
        _stemming = Options.Stemming;
    }

    /// <summary>The options this analyzer was made with.</summary>
    public Bm25Options Options { get; }

    /// <summary>FNV-1a 32-bit hash of the UTF-8 bytes of <paramref name="term"/>.</summary>
    public static uint TermId(ReadOnlySpan<char> term)
    {
        uint hash = 2166136261;
        Span<byte> utf8 = stackalloc byte[4];
        var rest = term;
        while (!rest.IsEmpty)
        {
            Rune.DecodeFromUtf16(rest, out Rune rune, out int consumed);
            int n = rune.EncodeToUtf8(utf8);
            for (int i = 0; i < n; i++) hash = (hash ^ utf8[i]) * 16777619;
            rest = rest[consumed..];
        }
        return hash;
    }

    /// <summary>The terms of <paramref name="text"/>, in order (for inspection and tests; the stores use ids).</summary>
    public List<string> Terms(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var terms = new List<string>();
        Span<char> buffer = stackalloc char[MaxTermLength + 2];
        int position = 0;
        int length;
        while ((length = Next(text, ref position, buffer)) > 0) terms.Add(buffer[..length].ToString());
        return terms;
    }

    /// <summary>Appends the id of every term of <paramref name="text"/>, in order, to <paramref name="ids"/>; returns how many.</summary>
    public int Analyze(ReadOnlySpan<char> text, List<uint> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        Span<char> buffer = stackalloc char[MaxTermLength + 2];
        int position = 0, count = 0, length;
        while ((length = Next(text, ref position, buffer)) > 0)
        {
            ids.Add(TermId(buffer[..length]));
            count++;
        }
        return count;
    }

    /// <summary>
    /// The distinct terms of <paramref name="text"/> with their counts, sorted by term id, and the text's length in terms
    /// (the BM25 document length).
    /// </summary>
    public TermCount[] Count(ReadOnlySpan<char> text, out int length) => Count(default, text, out length);

    /// <summary>
    /// BM25F over two fields: the distinct terms of <paramref name="title"/> (each occurrence counted
    /// <see cref="Bm25Options.TitleWeight"/> times) and of <paramref name="text"/>, with their weighted counts, sorted by
    /// term id, and the weighted length (title terms × weight + text terms).
    /// </summary>
    public TermCount[] Count(ReadOnlySpan<char> title, ReadOnlySpan<char> text, out int length)
    {
        var ids = new List<uint>(64);
        int weight = Options.TitleWeight;
        if (weight > 0 && !title.IsEmpty)
        {
            int titleTerms = Analyze(title, ids);
            for (int r = 1; r < weight; r++)
                for (int i = 0; i < titleTerms; i++) ids.Add(ids[i]);
        }
        Analyze(text, ids);
        length = ids.Count;
        if (length == 0) return [];
        var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(ids);
        span.Sort();
        int distinct = 1;
        for (int i = 1; i < span.Length; i++) if (span[i] != span[i - 1]) distinct++;
        var counts = new TermCount[distinct];
        int d = 0, run = 1;
        for (int i = 1; i <= span.Length; i++)
        {
            if (i < span.Length && span[i] == span[i - 1]) { run++; continue; }
            counts[d++] = new TermCount(span[i - 1], run);
            run = 1;
        }
        return counts;
    }

    // ---------------------------------------------------------------- tokenizer

    /// <summary>Writes the next kept term from <paramref name="position"/> into <paramref name="buffer"/>; 0 at the end.</summary>
    private int Next(ReadOnlySpan<char> text, ref int position, Span<char> buffer)
    {
        while (position < text.Length)
        {
            int length = 0;
            bool tooLong = false;
            // Skip separators.
            Rune rune = default;
            int consumed = 0;
            while (position < text.Length)
            {
                Rune.DecodeFromUtf16(text[position..], out rune, out consumed);
                if (IsWord(rune)) break;
                position += consumed;
            }
            if (position >= text.Length) return 0;
            if (IsIdeograph(rune))
            {
                position += consumed;
                length = Rune.ToLowerInvariant(rune).EncodeToUtf16(buffer);
            }
            else
            {
                while (position < text.Length)
                {
                    Rune.DecodeFromUtf16(text[position..], out rune, out consumed);
                    if (!IsWord(rune) || IsIdeograph(rune)) break;
                    position += consumed;
                    var lower = Rune.ToLowerInvariant(rune);
                    if (length + lower.Utf16SequenceLength > MaxTermLength) tooLong = true;
                    else length += lower.EncodeToUtf16(buffer[length..]);
                }
                if (tooLong) continue;
            }
            var term = buffer[..length];
            if (_stopWords && StopLookup.Contains(term)) continue;
            if (_stemming) length = StemPlural(buffer, length);
            return length;
        }
        return 0;
    }

    private static bool IsWord(Rune rune)
    {
        if (Rune.IsLetterOrDigit(rune)) return true;
        var category = Rune.GetUnicodeCategory(rune);
        return category is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark;
    }

    private static bool IsIdeograph(Rune rune)
    {
        int v = rune.Value;
        return v is (>= 0x3040 and <= 0x30FF) or (>= 0x3400 and <= 0x4DBF) or (>= 0x4E00 and <= 0x9FFF)
            or (>= 0xF900 and <= 0xFAFF) or (>= 0x20000 and <= 0x2FFFF);
    }

    /// <summary>Stems the lower-case term s[..length] in place and returns its new length. Harman's S-stemmer as Lucene's EnglishMinimalStemmer: "ies" → "y" (not "aies"/"eies"), "es"/"s" → drop "s" except "us", "ss", "aes", "ees", "oes".</summary>
    public static int StemPlural(Span<char> s, int length)
    {
        if (length < 3 || s[length - 1] != 's') return length;
        switch (s[length - 2])
        {
            case 'u':
            case 's':
                return length;
            case 'e':
                if (length > 3 && s[length - 3] == 'i' && s[length - 4] != 'a' && s[length - 4] != 'e')
                {
                    s[length - 3] = 'y';
                    return length - 2;
                }
                if (s[length - 3] is 'i' or 'a' or 'o' or 'e') return length;
                return length - 1;
            default:
                return length - 1;
        }
    }
}
