using System.Globalization;
using System.Text;

namespace Retro.Tokenizers.Pipeline;

/// <summary>Character predicates shared by BERT's normalizer and pre-tokenizer (code-point based).</summary>
internal static class CharClass
{
    public static UnicodeCategory Category(int cp) =>
        cp < 0x10000 ? CharUnicodeInfo.GetUnicodeCategory((char)cp) : Rune.GetUnicodeCategory(new Rune(cp));

    /// <summary>Unicode White_Space (tab, newline, carriage return included).</summary>
    public static bool IsWhitespace(int cp) => cp < 0x10000 && char.IsWhiteSpace((char)cp);

    /// <summary>BERT's control test: category C* except tab, newline, carriage return.</summary>
    public static bool IsControl(int cp)
    {
        if (cp is '\t' or '\n' or '\r') return false;
        return Category(cp) is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate
            or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned;
    }

    /// <summary>BERT's punctuation: ASCII 33–47, 58–64, 91–96, 123–126, or a Unicode P* category.</summary>
    public static bool IsPunctuation(int cp)
    {
        if (cp is >= 33 and <= 47 or >= 58 and <= 64 or >= 91 and <= 96 or >= 123 and <= 126) return true;
        return Category(cp) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;
    }

    /// <summary>BERT's CJK ideograph ranges (not Hangul, Hiragana or Katakana).</summary>
    public static bool IsCjk(int cp) =>
        cp is >= 0x4E00 and <= 0x9FFF or >= 0x3400 and <= 0x4DBF or >= 0x20000 and <= 0x2A6DF or >= 0x2A700 and <= 0x2B73F
            or >= 0x2B740 and <= 0x2B81F or >= 0x2B820 and <= 0x2CEAF or >= 0xF900 and <= 0xFAFF or >= 0x2F800 and <= 0x2FA1F;

    /// <summary>The regex class <c>\w</c> (Unicode): letters, marks, decimal and letter numbers, connector punctuation, ZWNJ/ZWJ.</summary>
    public static bool IsWordChar(int cp)
    {
        if (cp is 0x200C or 0x200D) return true;
        return Category(cp) is UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter or UnicodeCategory.NonSpacingMark
            or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark or UnicodeCategory.DecimalDigitNumber
            or UnicodeCategory.LetterNumber or UnicodeCategory.ConnectorPunctuation;
    }

    /// <summary>Full lower-case mapping of one code point (U+0130 becomes "i̇", as in Python and Rust).</summary>
    public static void AppendLower(int cp, Unicode.NormalizedBuilder builder, int start, int end)
    {
        if (cp == 0x130)
        {
            builder.Append('i', start, end);
            builder.Append('\u0307', start, end);
        }
        else if (cp < 0x10000) builder.Append(char.ToLowerInvariant((char)cp), start, end);
        else builder.AppendCodePoint(Rune.ToLowerInvariant(new Rune(cp)).Value, start, end);
    }
}
