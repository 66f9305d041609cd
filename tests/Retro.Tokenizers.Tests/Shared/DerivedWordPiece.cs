namespace Retro.Tokenizers.Tests;

/// <summary>
/// A realistic WordPiece vocabulary without downloading BERT's: derived from a byte-level BPE vocabulary (a word-initial
/// token "Ġword" becomes "word", any other token "piece" becomes "##piece"; lower-case ASCII letters and digits only),
/// plus BERT's specials and every printable ASCII character in both forms. Compiled into the tokenizer tests and the
/// tokenizer benchmark (linked, one file).
/// </summary>
internal static class DerivedWordPiece
{
    public static Dictionary<string, int> Vocabulary(Tokenizer bpe)
    {
        var tokens = new List<string> { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" };
        var seen = new HashSet<string>(tokens, StringComparer.Ordinal);
        for (int id = 0; id < bpe.VocabularySize; id++)
        {
            if (bpe.IdToToken(id) is not { Length: > 0 } token) continue;
            string piece = token[0] == '\u0120' ? token[1..] : "##" + token;
            string core = piece.StartsWith("##", StringComparison.Ordinal) ? piece[2..] : piece;
            if (core.Length == 0 || !core.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9'))) continue;
            if (seen.Add(piece)) tokens.Add(piece);
        }
        for (char c = '!'; c <= '~'; c++)
        {
            if (char.IsUpper(c)) continue;
            if (seen.Add(c.ToString())) tokens.Add(c.ToString());
            if (seen.Add("##" + c)) tokens.Add("##" + c);
        }
        var vocabulary = new Dictionary<string, int>(tokens.Count, StringComparer.Ordinal);
        foreach (string t in tokens) vocabulary[t] = vocabulary.Count;
        return vocabulary;
    }

    /// <summary>
    /// <paramref name="text"/> without the characters BERT's cleaning drops (controls but tab and line breaks, format
    /// characters such as U+200B and U+00AD, private use, unassigned, lone surrogates), which the library keeps.
    /// </summary>
    public static string Clean(string text)
    {
        var kept = new System.Text.StringBuilder(text.Length);
        foreach (var rune in text.EnumerateRunes())
        {
            var category = System.Text.Rune.GetUnicodeCategory(rune);
            bool drop = rune.Value is not ('\t' or '\n' or '\r') && category is System.Globalization.UnicodeCategory.Control or System.Globalization.UnicodeCategory.Format
                or System.Globalization.UnicodeCategory.PrivateUse or System.Globalization.UnicodeCategory.OtherNotAssigned or System.Globalization.UnicodeCategory.Surrogate;
            if (!drop) kept.Append(rune.ToString());
        }
        return kept.ToString();
    }
}
