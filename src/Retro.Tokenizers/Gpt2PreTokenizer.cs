using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;

namespace Retro.Tokenizers;

/// <summary>
/// Hand-written scanner for GPT-2's pre-tokenization pattern
/// <c>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</c>, with the pattern's semantics
/// over Unicode code points (as in Python's <c>regex</c> and Hugging Face's tokenizers): a supplementary-plane letter
/// or digit (e.g. U+1D400) counts as a letter or digit, a lone surrogate as "other". On text without supplementary
/// letters or digits the splits equal .NET's <see cref="System.Text.RegularExpressions.Regex"/> of the pattern.
/// </summary>
public static class Gpt2PreTokenizer
{
    /// <summary>The GPT-2 pattern, for reference and comparison.</summary>
    public const string Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private const byte Letter = 0, Number = 1, Space = 2, Other = 3;
    private static readonly byte[] AsciiClasses = BuildAscii();

    /// <summary>Length of the match starting at <paramref name="start"/> (&gt; 0 when start &lt; text.Length).</summary>
    public static int MatchLength(ReadOnlySpan<char> text, int start)
    {
        int n = text.Length;
        int i = start;
        char c = text[i];
        if (c == '\'' && i + 1 < n)
        {
            char c1 = text[i + 1];
            if (c1 is 's' or 't' or 'm' or 'd') return 2;
            if (i + 2 < n)
            {
                char c2 = text[i + 2];
                if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return 3;
            }
        }
        byte kind;
        int width;
        if (c == ' ' && i + 1 < n && (kind = Classify(text, i + 1, out width)) != Space)
        {
            i++;
        }
        else
        {
            kind = Classify(text, i, out width);
        }
        if (kind == Space)
        {
            int end = i + 1;
            while (end < n && IsSpace(text[end])) end++;
            if (end == n || end - i == 1) return end - start;
            return end - 1 - start;
        }
        i += width;
        while (i < n && Classify(text, i, out width) == kind) i += width;
        return i - start;
    }

    /// <summary>Appends the (start, length) of every pre-token of <paramref name="text"/> to <paramref name="output"/>.</summary>
    public static void Split(ReadOnlySpan<char> text, List<(int Start, int Length)> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        for (int i = 0; i < text.Length;)
        {
            int length = MatchLength(text, i);
            output.Add((i, length));
            i += length;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsSpace(char c) => c < 128 ? AsciiClasses[c] == Space : char.IsWhiteSpace(c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte Classify(ReadOnlySpan<char> text, int i, out int width)
    {
        char c = text[i];
        width = 1;
        if (c < 128) return AsciiClasses[c];
        if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
        {
            width = 2;
            return Category(Rune.GetUnicodeCategory(new Rune(c, text[i + 1])));
        }
        if (char.IsWhiteSpace(c)) return Space;
        return Category(CharUnicodeInfo.GetUnicodeCategory(c));
    }

    private static byte Category(UnicodeCategory category) => category switch
    {
        UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => Letter,
        UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => Number,
        _ => Other,
    };

    private static byte[] BuildAscii()
    {
        var table = new byte[128];
        for (int c = 0; c < 128; c++)
        {
            table[c] = char.IsWhiteSpace((char)c) ? Space : char.IsLetter((char)c) ? Letter : char.IsDigit((char)c) ? Number : Other;
        }
        return table;
    }
}
